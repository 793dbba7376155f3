"""From per-frame activity to event segments: hysteresis, gap merging, minimum and maximum length.

``Hysteresis`` turns smoothed class scores into per-class activity: a class becomes active when
its score reaches the onset threshold (and the frame was classified at all) and stays active
until its score drops below the offset threshold. Every class has its own state, so events of
different classes may overlap.

``LabelTrack`` segments one label's activity, frame by frame (frame t, in order):
1. an active frame starts an event, or extends the open one (a gap shorter than the merge gap
   between two active runs belongs to the event);
2. when an active frame lies ``max_frames`` or more after the current part's start, the part
   [part start, part start + max_frames) is reported with ``final=False`` and the next part starts
   where it ended; so every part but the last is exactly ``max_frames`` long and the last part
   holds at least one active frame (it is reported one frame after the maximum is reached);
3. when ``merge_frames`` inactive frames (at least one) follow the last active frame, the event
   is over: it ends after its last active frame, and it is reported (as its final part) if it
   spans at least ``min_frames`` or already had parts reported; otherwise it is dropped and
   counted;
4. ``finish`` (end of stream) ends an open event the same way.

Event ids are drawn from the id factory when an event's first part is reported, so dropped
blips use no id. Frames the track has *resolved* (``resolved_until``) have a known membership:
``covers`` says whether such a frame belongs to a reported event (gaps inside a merged event do;
the inactive frames after its end do not).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Hysteresis:
    """Per-class double-threshold activity over smoothed scores."""

    def __init__(self, onset: npt.ArrayLike, offset: npt.ArrayLike) -> None:
        self._onset = np.asarray(onset, dtype=np.float64)
        self._offset = np.asarray(offset, dtype=np.float64)
        if self._onset.shape != self._offset.shape or self._onset.ndim != 1:
            raise ValueError("need one onset and one offset threshold per class")
        if np.any(self._offset > self._onset):
            raise ValueError("offset thresholds must not exceed onset thresholds")
        self._active: BoolArray = np.zeros(self._onset.shape, dtype=np.bool_)

    def update(self, scores: FloatArray, classified: bool = True) -> BoolArray:
        """Activity of every class for the next frame.

        ``classified=False`` (no classifier output for the frame) lets running events go on or
        stop on their smoothed score but starts none.
        """
        starts = scores >= self._onset if classified else np.zeros_like(self._active)
        keeps = self._active & (scores >= self._offset)
        self._active = starts | keeps
        return self._active.copy()


@dataclass(frozen=True)
class Segment:
    """One reported part of an event, in frames; statistics are added by the detector."""

    event_id: str
    label: str
    start_frame: int
    end_frame: int
    """Exclusive."""
    part: int
    """1 for the first part of an event."""
    final: bool
    """False for a part cut at the maximum duration while the event goes on."""


@dataclass
class _OpenEvent:
    start: int
    part_start: int
    active_end: int
    """One past the last active frame."""
    parts_reported: int = 0
    event_id: str | None = None
    announced: bool = False


class LabelTrack:
    """Segments one label's activity into events (see the module docstring)."""

    def __init__(
        self,
        label: str,
        min_frames: int,
        merge_frames: int,
        max_frames: int,
        id_factory: Callable[[], str],
    ) -> None:
        if max_frames < 1 or merge_frames >= max_frames or min_frames > max_frames:
            raise ValueError("need max_frames >= 1, merge_frames < max_frames, min <= max")
        self.label = label
        self._min_frames = min_frames
        self._end_gap = max(merge_frames, 1)
        self._max_frames = max_frames
        self._new_id = id_factory
        self._event: _OpenEvent | None = None
        self._next_frame: int | None = None
        self._members: deque[tuple[int, int]] = deque()
        self.dropped_short = 0
        """Events dropped because they were shorter than the minimum duration."""

    def step(self, frame: int, active: bool) -> list[Segment]:
        """Feed the activity of the next frame; returns the parts that became reportable."""
        if self._next_frame is not None and frame != self._next_frame:
            raise ValueError(f"expected frame {self._next_frame}, got {frame}")
        self._next_frame = frame + 1
        event = self._event
        segments: list[Segment] = []
        if active:
            if event is None:
                self._event = _OpenEvent(start=frame, part_start=frame, active_end=frame + 1)
                return segments
            while frame - event.part_start >= self._max_frames:
                segments.append(self._part(event, event.part_start + self._max_frames, False))
            event.active_end = frame + 1
        elif event is not None and frame + 1 - event.active_end >= self._end_gap:
            segments.extend(self._close())
        return segments

    def finish(self) -> list[Segment]:
        """End of stream: the open event ends after its last active frame."""
        return self._close() if self._event is not None else []

    def _close(self) -> list[Segment]:
        event = self._event
        assert event is not None
        self._event = None
        if event.parts_reported == 0 and event.active_end - event.start < self._min_frames:
            self.dropped_short += 1
            return []
        self._members.append((event.start, event.active_end))
        return [self._part(event, event.active_end, True)]

    def _part(self, event: _OpenEvent, end: int, final: bool) -> Segment:
        if event.event_id is None:
            event.event_id = self._new_id()
        event.parts_reported += 1
        segment = Segment(
            event.event_id, self.label, event.part_start, end, event.parts_reported, final
        )
        event.part_start = end
        return segment

    def _confirmed(self, event: _OpenEvent) -> bool:
        return event.parts_reported > 0 or event.active_end - event.start >= self._min_frames

    def resolved_until(self) -> int:
        """Frames before this one have a known membership (0 before any frame)."""
        event = self._event
        if event is None:
            return self._next_frame or 0
        return event.active_end if self._confirmed(event) else event.start

    def announce(self) -> tuple[str, int, int] | None:
        """The open event's (id, first frame, one past its last active frame) the first time
        this is asked once it is confirmed (it lasted its minimum duration); its id is fixed
        now, so its reports carry the same one. None otherwise."""
        event = self._event
        if event is None or event.announced or not self._confirmed(event):
            return None
        if event.event_id is None:
            event.event_id = self._new_id()
        event.announced = True
        return event.event_id, event.start, event.active_end

    def open_start(self) -> int | None:
        """The first frame of the event still open (reported parts or not), or None."""
        return None if self._event is None else self._event.start

    def needed_from(self) -> int:
        """The first frame a later report of this track may still cover."""
        event = self._event
        if event is None:
            return self._next_frame or 0
        return event.part_start

    def covers(self, frame: int) -> bool:
        """Whether a resolved frame belongs to a reported event; ask in increasing order."""
        while self._members and self._members[0][1] <= frame:
            self._members.popleft()
        if self._members and self._members[0][0] <= frame:
            return True
        event = self._event
        return (
            event is not None and self._confirmed(event) and event.start <= frame < event.active_end
        )
