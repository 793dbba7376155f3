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
   scores may continue a class event but never starts one;
4. ``unknown`` activity: the frame's LAeq is at or above ``unknown_level_db`` and no class is
   active in it (before the minimum duration is applied to the classes' events);
5. every label (the classes, then ``unknown``) segments its activity (``LabelTrack``): merging
   gaps shorter than ``merge_gap_s``, dropping events shorter than ``min_duration_s``, reporting
   events longer than ``max_duration_s`` in parts;
6. each reportable part gets its statistics over its frames and is returned as a
   ``DetectedEvent``;
7. frames whose label membership is settled are queued as ``DecidedFrame`` for energy
   attribution (``pop_decided_frames``).

When events are reported: an ended event after ``merge_gap_s`` (at least one frame) of inactivity
following its last active frame, plus the median filter's lag; a part of a long event one frame
after it reached ``max_duration_s``, plus the lag. Reports are never retracted or changed:
the same frames give the same events however the pushes are spread over calls, and ``flush``
(end of stream) reports what is still open. The detector is single-use: after ``flush`` it
accepts no more frames.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from noisefleet_core.acoustics.combine import energy, level
from noisefleet_core.events.segmentation import Hysteresis, LabelTrack, Segment
from noisefleet_core.events.settings import DetectorSettings
from noisefleet_core.events.smoothing import StreamingMedianFilter
from noisefleet_core.models.manifest import UNKNOWN_LABEL

FloatArray = npt.NDArray[np.float64]
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
            if scores.ndim != 1 or not np.all(np.isfinite(scores)):
                raise ValueError(f"frame {self.index}: scores must be a 1-D array of numbers")
            if np.any(scores < -SCORE_TOLERANCE) or np.any(scores > 1 + SCORE_TOLERANCE):
                raise ValueError(f"frame {self.index}: scores must be probabilities in [0, 1]")
            scores = np.clip(scores, 0.0, 1.0)
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
        self._record_frames = record_frames
        self._next_index: int | None = None
        self._next_decision = 0
        self._waiting: deque[Frame] = deque()
        # Levels and smoothed scores of decided frames still needed, from frame _store_start on.
        self._store_start = 0
        self._laeq: list[float] = []
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
            events.extend(self._describe(segment) for segment in track.finish())
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
            self._laeq.append(frame.laeq_db)
            self._lafmax.append(frame.lafmax_db)
            self._smoothed.append(smoothed)
            active = self._hysteresis.update(smoothed, classified=frame.scores is not None)
            unknown = (
                unknown_level is not None and frame.laeq_db >= unknown_level and not active.any()
            )
            activity: list[bool] = active.tolist()
            if self._has_unknown:
                activity.append(unknown)
            for track, is_active in zip(self._tracks, activity, strict=True):
                events.extend(self._describe(segment) for segment in track.step(index, is_active))
            self._settle_membership()
        return events

    def _settle_membership(self) -> None:
        if self._flushed:
            settled = self._next_decision
        else:
            settled = min(track.resolved_until() for track in self._tracks)
        for index in range(self._next_membership, settled):
            labels = frozenset(track.label for track in self._tracks if track.covers(index))
            if self._record_frames:
                laeq = self._laeq[index - self._store_start]
                self._decided.append(DecidedFrame(index, laeq, labels))
        self._next_membership = max(self._next_membership, settled)
        self._prune()

    def _prune(self) -> None:
        needed = min(
            [self._next_membership, self._next_decision]
            + [track.needed_from() for track in self._tracks]
        )
        drop = needed - self._store_start
        if drop >= 256 or (drop > 0 and self._flushed):
            del self._laeq[:drop], self._lafmax[:drop], self._smoothed[:drop]
            self._store_start = needed

    def _describe(self, segment: Segment) -> DetectedEvent:
        settings = self.settings
        lo = segment.start_frame - self._store_start
        hi = segment.end_frame - self._store_start
        n_frames = hi - lo
        duration_s = _seconds(n_frames, settings.frame_s)
        mean_energy = sum(energy(value) for value in self._laeq[lo:hi]) / n_frames
        laeq_db = level(mean_energy) if mean_energy > 0 else -math.inf
        scores = np.stack(self._smoothed[lo:hi])
        means = scores.mean(axis=0)
        peak: float | None = None
        mean: float | None = None
        candidates = list(range(len(settings.labels)))
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
            start_frame=segment.start_frame,
            end_frame=segment.end_frame,
            start_s=_seconds(segment.start_frame, settings.frame_s),
            end_s=_seconds(segment.end_frame, settings.frame_s),
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
