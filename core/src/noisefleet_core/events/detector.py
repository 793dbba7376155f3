"""The streaming sound event detector: frames of level and class scores in, event reports out.

Time is counted in frames of ``settings.frame_s`` from the start of the stream: frame i covers
[i * frame_s, (i + 1) * frame_s) stream seconds; the adapter turns that into wall-clock time.
Frames must arrive with consecutive indices (the first may be any index >= 0).

Steps of ``EventDetector.push`` for every frame:
1. check the frame; a frame without scores (level gate closed, or no classifier window covers it
   yet) counts as score 0 for every class;
2. median-filter each class's scores (``smoothing``): decisions for frame i are made when frame
   i + h arrives, h = (median_filter_frames - 1) / 2;
3. per-class hysteresis on the smoothed scores (``segmentation.Hysteresis``); a frame without
   scores may continue a class event but never starts one; non-event labels (``ambient``) are
   never active;
4. ``unknown`` activity: the frame's LAeq is at or above ``unknown_level_db`` and no class is
   active in it (before the minimum duration is applied to the classes' events);
5. every label (the classes, then ``unknown``) segments its activity (``LabelTrack``): merging
   gaps shorter than ``merge_gap_s``, dropping events shorter than ``min_duration_s``, reporting
   events longer than ``max_duration_s`` in parts;
6. each reportable part of a class event has its boundaries moved to the nearest strong level
   step (``boundaries.snap_boundaries``, within ``boundary_search_s``: the first part's onset,
   the final part's offset), then gets its statistics over its frames and is returned as a
   ``DetectedEvent``; a class event (of one part) whose LAeq does not stand
   ``min_prominence_db`` above the background level (the median LAeq of the frames without
   class activity over ``background_window_s`` before its onset) is dropped and counted
   (``dropped_faint``) unless it was open longer than ``prominence_max_s``;
7. frames whose label membership is settled are queued as ``DecidedFrame`` for energy
   attribution (``pop_decided_frames``).

When events are reported: an ended event after ``merge_gap_s`` (at least one frame) of inactivity
following its last active frame, plus the median filter's lag, and no earlier than
``boundary_search_s`` after that frame (its offset may move there); a part of a long event one
frame after it reached ``max_duration_s``, plus the lag. Reports keep their order and are never
retracted or changed: the same frames give the same events however the pushes are spread over
calls, and ``flush`` (end of stream) reports what is still open. The detector is single-use:
after ``flush`` it accepts no more frames. Energy attribution (``pop_decided_frames``) follows
the classifier's activity, before boundaries are snapped; frames of dropped faint events are
background.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from noisefleet_core.acoustics.combine import energy, level
from noisefleet_core.events.boundaries import snap_boundaries
from noisefleet_core.events.segmentation import Hysteresis, LabelTrack, Segment
from noisefleet_core.events.settings import DetectorSettings
from noisefleet_core.events.smoothing import RunningMedian, StreamingMedianFilter
from noisefleet_core.models.manifest import UNKNOWN_LABEL

FloatArray = npt.NDArray[np.float64]
MIN_BACKGROUND_FRAMES = 10
"""Frames of history a background level needs; before that every event counts as prominent."""
SCORE_TOLERANCE = 1e-6
"""Scores this far outside [0, 1] (float rounding in a softmax) are clipped, not rejected."""


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame's observation: its levels and, when the classifier ran, its class scores."""

    index: int
    """Frame number from the start of the stream."""
    laeq_db: float
    """A-weighted equivalent level over the frame (dB; SPL when calibrated)."""
    lafmax_db: float
    """Maximum A-weighted fast level in the frame (dB)."""
    scores: FloatArray | None = field(default=None)
    """Per-class probabilities in the order of ``settings.labels`` (a read-only copy), or None
    when the level gate kept the classifier from running or no window covers the frame yet."""

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise ValueError(f"frame index must be a whole number >= 0, got {self.index!r}")
        if not (math.isfinite(self.laeq_db) and math.isfinite(self.lafmax_db)):
            raise ValueError(
                f"frame {self.index}: levels must be finite (got LAeq {self.laeq_db}, LAFmax "
                f"{self.lafmax_db}); the meter floors silence at a very low finite level"
            )
        if self.scores is not None:
            scores = np.array(self.scores, dtype=np.float64)
            if scores.ndim != 1:
                raise ValueError(f"frame {self.index}: scores must be a 1-D array of numbers")
            # One min and max per frame (NaN and inf fail the range test too), not five
            # array passes: the detector sees ten frames a second per sensor.
            lowest, highest = (scores.min(), scores.max()) if scores.size else (0.0, 0.0)
            if not (lowest >= -SCORE_TOLERANCE and highest <= 1 + SCORE_TOLERANCE):
                if not np.all(np.isfinite(scores)):
                    raise ValueError(f"frame {self.index}: scores must be a 1-D array of numbers")
                raise ValueError(f"frame {self.index}: scores must be probabilities in [0, 1]")
            if lowest < 0.0 or highest > 1.0:
                np.clip(scores, 0.0, 1.0, out=scores)
            scores.setflags(write=False)
            object.__setattr__(self, "scores", scores)


@dataclass(frozen=True)
class DetectedEvent:
    """A reported event, or one part of a long event. Statistics cover the part's frames."""

    event_id: str
    """Shared by all parts of one event."""
    label: str
    """A class label or ``unknown``."""
    start_frame: int
    end_frame: int
    """Exclusive: the frame after the event's last active frame (or the part's cut)."""
    start_s: float
    """``start_frame * frame_s`` in stream seconds, rounded to the microsecond (as are
    ``end_s`` and ``duration_s``) so 3 * 0.1 reads 0.3."""
    end_s: float
    duration_s: float
    confidence_peak: float | None
    """Highest smoothed score of the label over the part; None for ``unknown`` events, which
    no class score describes."""
    confidence_mean: float | None
    """Mean smoothed score of the label over the part (gaps included); None for ``unknown``."""
    runner_up: tuple[tuple[str, float], ...]
    """Other classes by mean smoothed score over the part, best first, at most
    ``runner_up_count``, only those with a mean above 0 (for ``unknown``: any class)."""
    laeq_db: float
    """Energy mean of the frames' LAeq."""
    lafmax_db: float
    """Highest frame LAFmax."""
    lae_db: float
    """Sound exposure level: LAeq + 10*lg(duration_s / 1 s)."""
    part: int
    """1 for the first part; an event shorter than the maximum has only part 1."""
    final: bool
    """True for the last part; False for a part cut at the maximum while the event goes on."""


@dataclass(frozen=True)
class DecidedFrame:
    """A frame whose event membership is settled, for energy attribution."""

    index: int
    laeq_db: float
    labels: frozenset[str]
    """Labels of the reported events covering the frame (gaps inside merged events included);
    empty for background."""


def _seconds(frames: int, frame_s: float) -> float:
    return round(frames * frame_s, 6)


class _CountingIds:
    """Deterministic ids ``event-1``, ``event-2``, ... for tests and replays."""

    def __init__(self) -> None:
        self._count = 0

    def __call__(self) -> str:
        self._count += 1
        return f"event-{self._count}"


class EventDetector:
    """Streaming event detection over frames (see the module docstring for the steps)."""

    def __init__(
        self,
        settings: DetectorSettings,
        id_factory: Callable[[], str] | None = None,
        record_frames: bool = True,
    ) -> None:
        """``id_factory`` gives each event its id when its first part is reported: the adapter
        passes ``lambda: str(uuid.uuid4())``; the default counts ``event-1``, ``event-2``, ...
        per detector. ``record_frames=False`` skips the ``DecidedFrame`` queue for callers that
        do not attribute energy (otherwise drain it with ``pop_decided_frames``)."""
        self.settings = settings
        new_id = id_factory if id_factory is not None else _CountingIds()
        labels = settings.labels
        self._smoother = StreamingMedianFilter(settings.median_filter_frames)
        self._hysteresis = Hysteresis(
            [settings.onset_threshold(label) for label in labels],
            [settings.offset_threshold(label) for label in labels],
        )
        self._has_unknown = settings.unknown_level_db is not None
        self._event_mask = np.array([label not in settings.non_event_labels for label in labels])
        track_labels = [*labels, *([UNKNOWN_LABEL] if self._has_unknown else [])]
        self._tracks = [
            LabelTrack(
                label,
                min_frames=settings.frames(settings.min_duration(label)),
                merge_frames=settings.frames(settings.merge_gap_s),
                max_frames=settings.frames(settings.max_duration_s),
                id_factory=new_id,
            )
            for label in track_labels
        ]
        self._search = settings.frames(settings.boundary_search_s)
        self._pending: deque[Segment] = deque()  # reportable parts waiting for later levels
        self._started: list[DetectedEvent] = []  # start notices not yet popped
        self._record_frames = record_frames
        self._next_index: int | None = None
        self._next_decision = 0
        self._waiting: deque[Frame] = deque()
        # Levels and smoothed scores of decided frames still needed, from frame _store_start on.
        self._store_start = 0
        self._laeq: list[float] = []
        self._background: list[float | None] = []  # per frame: the level before it (median)
        self._window = max(1, settings.frames(settings.background_window_s))
        self._longest_checked = settings.frames(settings.prominence_max_s)
        self._end_gap = max(1, settings.frames(settings.merge_gap_s))
        self._recent = RunningMedian(self._window)
        self._faint: deque[tuple[str, int, int]] = deque()  # dropped: label, [start, end) frames
        self._dropped_faint = dict.fromkeys(labels, 0)
        self._lafmax: list[float] = []
        self._smoothed: list[FloatArray] = []
        self._next_membership = 0
        self._decided: list[DecidedFrame] = []
        self._flushed = False
        self.frames_pushed = 0
        """Frames accepted so far."""

    @property
    def delay_frames(self) -> int:
        """Frames by which decisions lag the newest frame (the median filter's lookahead)."""
        return self._smoother.delay_frames

    @property
    def dropped_faint(self) -> dict[str, int]:
        """Per class, events dropped for not standing out of the background level."""
        return dict(self._dropped_faint)

    def _background_level(self) -> float | None:
        """The median level of the frames before the next one (None while fewer than
        ``MIN_BACKGROUND_FRAMES`` are known)."""
        if len(self._recent) < MIN_BACKGROUND_FRAMES:
            return None
        return self._recent.median()

    @property
    def dropped_short(self) -> dict[str, int]:
        """Per label, events dropped for being shorter than their minimum duration."""
        return {track.label: track.dropped_short for track in self._tracks}

    def push(self, frame: Frame) -> list[DetectedEvent]:
        """Add the next frame; returns the events (or parts) that became final through it."""
        if self._flushed:
            raise RuntimeError("the detector was flushed; start a new one for a new stream")
        n_labels = len(self.settings.labels)
        if frame.scores is not None and frame.scores.shape != (n_labels,):
            raise ValueError(
                f"frame {frame.index}: {frame.scores.shape[0]} scores for {n_labels} labels"
            )
        if self._next_index is None:
            self._next_index = self._next_decision = self._store_start = frame.index
            self._next_membership = frame.index
        elif frame.index != self._next_index:
            raise ValueError(
                f"frames must be consecutive: expected frame {self._next_index}, got {frame.index}"
            )
        self._next_index += 1
        self.frames_pushed += 1
        self._waiting.append(frame)
        scores = frame.scores if frame.scores is not None else np.zeros(n_labels)
        return self._decide(self._smoother.push(scores))

    def push_many(self, frames: Iterable[Frame]) -> list[DetectedEvent]:
        """``push`` every frame in order; returns all their events."""
        events: list[DetectedEvent] = []
        for frame in frames:
            events.extend(self.push(frame))
        return events

    def flush(self) -> list[DetectedEvent]:
        """End of stream: decide the last frames and report every open event as final."""
        if self._flushed:
            return []
        events = self._decide(self._smoother.flush())
        self._flushed = True
        for track in self._tracks:
            self._pending.extend(track.finish())
        events.extend(self._release())
        self._settle_membership()
        return events

    def pop_decided_frames(self) -> list[DecidedFrame]:
        """The frames settled since the last call, in order (empty with ``record_frames=False``).

        A frame is settled when every label knows whether a reported event covers it: up to
        ``merge_gap_s`` + ``min_duration_s`` + the median lag after it arrived.
        """
        decided, self._decided = self._decided, []
        return decided

    def _decide(self, smoothed_frames: list[FloatArray]) -> list[DetectedEvent]:
        events: list[DetectedEvent] = []
        unknown_level = self.settings.unknown_level_db
        for smoothed in smoothed_frames:
            frame = self._waiting.popleft()
            index = self._next_decision
            self._next_decision += 1
            self._background.append(self._background_level())
            self._laeq.append(frame.laeq_db)
            self._lafmax.append(frame.lafmax_db)
            self._smoothed.append(smoothed)
            active = self._hysteresis.update(smoothed, classified=frame.scores is not None)
            active &= self._event_mask
            unknown = (
                unknown_level is not None and frame.laeq_db >= unknown_level and not active.any()
            )
            if not active.any():
                # The background is what sounds when no class does: a steady siren must not
                # become the background that its own later parts are measured against.
                self._recent.push(frame.laeq_db)
            activity: list[bool] = active.tolist()
            if self._has_unknown:
                activity.append(unknown)
            for track, is_active in zip(self._tracks, activity, strict=True):
                self._pending.extend(track.step(index, is_active))
            self._announce_starts()
            events.extend(self._release())
            self._settle_membership()
        return events

    def pop_started(self) -> list[DetectedEvent]:
        """Events that started and will certainly be reported, since the last call: each once,
        with the id its end report will carry, ``part`` 1, ``final`` False and its levels and
        confidences so far. An event is certain once it lasted its minimum duration and, for a
        class event checked for prominence, ``prominence_max_s``; a shorter one is only
        reported at its end. Its onset is settled too (``boundary_search_s`` of levels after
        it), so the start time is the one its end report will give."""
        started, self._started = self._started, []
        return started

    def _announce_starts(self) -> None:
        decided = self._next_decision
        checked = self.settings.min_prominence_db is not None
        for track in self._tracks:
            start = track.open_start()
            if start is None or decided - start <= self._search:
                continue
            if (
                checked
                and track.label != UNKNOWN_LABEL
                and decided - start <= self._longest_checked
            ):
                continue
            notice = track.announce()
            if notice is None:
                continue
            event_id, first, active_end = notice
            event = self._describe(Segment(event_id, track.label, first, active_end, 1, False))
            if event is not None:
                self._started.append(event)

    def _snaps(self, segment: Segment) -> bool:
        return self._search > 0 and segment.label != UNKNOWN_LABEL

    def _release(self) -> list[DetectedEvent]:
        """Describe the pending parts, in order, once the levels their boundary searches need
        are decided (all of them at the end of the stream)."""
        events: list[DetectedEvent] = []
        while self._pending:
            segment = self._pending[0]
            if self._snaps(segment) and not self._flushed:
                # A search reaches ``search`` frames past each boundary that may move.
                moving = [segment.start_frame] if segment.part == 1 else []
                moving += [segment.end_frame] if segment.final else []
                if moving and self._next_decision <= max(moving) + self._search:
                    break
            event = self._describe(self._pending.popleft())
            if event is not None:
                events.append(event)
        return events

    def _settle_membership(self) -> None:
        if self._flushed:
            settled = self._next_decision
        else:
            # Frames of a pending part are settled once it is reported or dropped.
            settled = min(
                [track.resolved_until() for track in self._tracks]
                + [segment.start_frame for segment in self._pending]
                + self._checked_open_starts()
            )
        for index in range(self._next_membership, settled):
            while self._faint and self._faint[0][2] <= index:
                self._faint.popleft()
            faint = {label for label, start, end in self._faint if start <= index < end}
            labels = frozenset(
                track.label
                for track in self._tracks
                if track.covers(index) and track.label not in faint
            )
            if self._record_frames:
                laeq = self._laeq[index - self._store_start]
                self._decided.append(DecidedFrame(index, laeq, labels))
        self._next_membership = max(self._next_membership, settled)
        self._prune()

    def _prune(self) -> None:
        needed = min(
            [self._next_membership, self._next_decision]
            + [track.needed_from() for track in self._tracks]
            + [segment.start_frame for segment in self._pending]
        )
        # Onsets may move back by the search, and level steps look ``boundary_step_frames``
        # further back.
        needed = max(self._store_start, needed - self._search - self.settings.boundary_step_frames)
        drop = needed - self._store_start
        if drop >= 256 or (drop > 0 and self._flushed):
            del self._laeq[:drop], self._lafmax[:drop], self._smoothed[:drop]
            del self._background[:drop]
            self._store_start = needed

    def _snapped(self, segment: Segment) -> tuple[int, int]:
        """The part's [start, end) frames, boundaries moved to level steps when it snaps."""
        if not self._snaps(segment):
            return segment.start_frame, segment.end_frame
        settings = self.settings
        first = max(
            self._store_start, segment.start_frame - self._search - settings.boundary_step_frames
        )
        last = min(self._next_decision, segment.end_frame + self._search + 1)
        levels = self._laeq[first - self._store_start : last - self._store_start]
        start, end = snap_boundaries(
            levels,
            segment.start_frame - first,
            segment.end_frame - first,
            self._search,
            settings.boundary_step_frames,
            settings.boundary_min_step_db,
            snap_start=segment.part == 1,
            snap_end=segment.final,
        )
        return first + start, first + end

    def _checked_open_starts(self) -> list[int]:
        """Starts of open class events that may still be dropped as faint: their frames are not
        settled until they are reported (an event open longer than ``prominence_max_s`` is
        always reported, so its frames settle as they resolve)."""
        if self.settings.min_prominence_db is None:
            return []
        starts = []
        for track in self._tracks:
            start = track.open_start()
            if start is None or track.label == UNKNOWN_LABEL:
                continue
            if self._next_decision - start <= self._longest_checked:
                starts.append(start)
        return starts

    def _faint_event(self, segment: Segment, start_frame: int, laeq_db: float) -> bool:
        """Whether a one-part class event, open at most ``prominence_max_s``, fails to stand
        out of the background level."""
        minimum = self.settings.min_prominence_db
        if minimum is None or segment.label == UNKNOWN_LABEL:
            return False
        if not (segment.part == 1 and segment.final):
            return False
        # Open this long, its frames were held back from settling (``_checked_open_starts``).
        if segment.end_frame + self._end_gap - segment.start_frame > self._longest_checked:
            return False
        background = self._background[start_frame - self._store_start]
        return background is not None and laeq_db - background < minimum

    def _describe(self, segment: Segment) -> DetectedEvent | None:
        """The part as a reported event, or None when it is dropped as faint."""
        settings = self.settings
        start_frame, end_frame = self._snapped(segment)
        lo = start_frame - self._store_start
        hi = end_frame - self._store_start
        n_frames = hi - lo
        duration_s = _seconds(n_frames, settings.frame_s)
        mean_energy = sum(energy(value) for value in self._laeq[lo:hi]) / n_frames
        laeq_db = level(mean_energy) if mean_energy > 0 else -math.inf
        if self._faint_event(segment, start_frame, laeq_db):
            self._faint.append((segment.label, segment.start_frame, segment.end_frame))
            self._dropped_faint[segment.label] += 1
            return None
        scores = np.stack(self._smoothed[lo:hi])
        means = scores.mean(axis=0)
        peak: float | None = None
        mean: float | None = None
        candidates = [k for k in range(len(settings.labels)) if self._event_mask[k]]
        if segment.label != UNKNOWN_LABEL:
            k = settings.labels.index(segment.label)
            peak, mean = float(scores[:, k].max()), float(means[k])
            candidates.remove(k)
        ranked = sorted((k for k in candidates if means[k] > 0), key=lambda k: -means[k])
        runner_up = tuple(
            (settings.labels[k], float(means[k])) for k in ranked[: settings.runner_up_count]
        )
        return DetectedEvent(
            event_id=segment.event_id,
            label=segment.label,
            start_frame=start_frame,
            end_frame=end_frame,
            start_s=_seconds(start_frame, settings.frame_s),
            end_s=_seconds(end_frame, settings.frame_s),
            duration_s=duration_s,
            confidence_peak=peak,
            confidence_mean=mean,
            runner_up=runner_up,
            laeq_db=laeq_db,
            lafmax_db=max(self._lafmax[lo:hi]),
            lae_db=laeq_db + 10.0 * math.log10(duration_s),
            part=segment.part,
            final=segment.final,
        )
