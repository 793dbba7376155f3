"""Settings of the streaming sound event detector, validated once into a frozen value object.

All durations are in seconds and are turned into whole frames by rounding to the nearest frame
(``DetectorSettings.frames``): with the default 0.1 s frames, 0.3 s is 3 frames and 0.5 s is 5.
Thresholds and minimum durations can be set per label; a label without an entry uses the
default. ``unknown`` (loud sound that no class explains) takes a minimum duration like any label.
Labels listed in ``non_event_labels`` (a model's ``ambient``: background only) are never
reported: their frames are background for ``unknown`` and for energy attribution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from noisefleet_core.models.manifest import UNKNOWN_LABEL

BACKGROUND_LABEL = "background"
"""Energy attribution's name for frames that no event explains."""
RESERVED_LABELS = (UNKNOWN_LABEL, BACKGROUND_LABEL)


class DetectorSettingsError(ValueError):
    """The detector settings are invalid; the message says which setting and why."""


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(key): float(value) for key, value in mapping.items()})


@dataclass(frozen=True)
class DetectorSettings:
    """How frames of level and class scores become sound events."""

    labels: tuple[str, ...]
    """The classifier's labels, in the order of its score vector."""
    frame_s: float = 0.1
    """Frame hop: every frame carries one LAeq, one LAFmax and one score vector."""
    default_onset_threshold: float = 0.5
    """Smoothed score at or above which an event of a class starts."""
    default_offset_threshold: float = 0.3
    """Smoothed score below which a running event of a class stops (hysteresis)."""
    onset_thresholds: Mapping[str, float] = field(default_factory=dict)
    """Per-label onset thresholds (labels not listed use the default)."""
    offset_thresholds: Mapping[str, float] = field(default_factory=dict)
    """Per-label offset thresholds (labels not listed use the default)."""
    median_filter_frames: int = 5
    """Odd width of the median filter over each class's scores; 1 switches smoothing off.
    Decisions lag the newest frame by (width - 1) / 2 frames."""
    min_duration_s: float = 0.3
    """Events shorter than this (first to last active frame, gaps included) are dropped."""
    min_durations_s: Mapping[str, float] = field(default_factory=dict)
    """Per-label minimum durations; ``unknown`` may be listed too."""
    merge_gap_s: float = 0.5
    """Same-label activity separated by a gap shorter than this is one event. An ended event is
    held until a gap this long has passed, so its report is delayed by this much."""
    max_duration_s: float = 600.0
    """Longer events are reported in parts of this length (``final=False``), same event id."""
    unknown_level_db: float | None = 65.0
    """Frames at or above this LAeq (dB) with no class active are ``unknown`` activity, so
    alerts on level alone work. None: no ``unknown`` events."""
    gate_level_db: float = 45.0
    """The level gate opens (the classifier runs) at or above this frame LAeq (dB)."""
    gate_hold_s: float = 1.0
    """The gate stays open this long after the level drops, so event tails are classified."""
    runner_up_count: int = 2
    """How many other classes an event lists with their mean scores."""
    boundary_search_s: float = 0.6
    """How far the onset and offset of a class event may move to the steepest rise and fall of
    the frame level (``boundaries.snap_boundaries``); 0 keeps the classifier's boundaries. Ended
    events are reported this much later."""
    boundary_step_frames: int = 2
    """Frames over which a level step is measured (the level of frame i minus frame i - this)."""
    boundary_min_step_db: float = 1.0
    """A boundary moves only to a level step at least this large (dB)."""
    min_prominence_db: float | None = 3.0
    """A class event is reported only when its LAeq stands at least this far (dB) above the
    background level: the median LAeq of the last ``background_window_s`` worth of frames in
    which no class was active, before its onset (a class's own frames never become its
    background). A
    background that the classifier mistakes for a class is not louder than itself; a source as
    loud as the background adds 3 dB. None: no check."""
    background_window_s: float = 30.0
    """How far back the background level of ``min_prominence_db`` looks."""
    prominence_max_s: float = 10.0
    """Only events open at most this long (merge gap included) are checked for prominence; longer
    ones are always reported. Until then a class event's frames wait for its report before they
    count in energy attribution, so level records may lag by up to this much."""
    non_event_labels: tuple[str, ...] = ()
    """Labels of the classifier that are not events (e.g. ``ambient``, background only): never
    active, never reported, never a runner-up; a frame they win counts as background."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "non_event_labels", tuple(self.non_event_labels))
        for name in ("onset_thresholds", "offset_thresholds", "min_durations_s"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        self._check_labels()
        if not (math.isfinite(self.frame_s) and self.frame_s > 0):
            raise DetectorSettingsError(f"frame_s must be a positive number, got {self.frame_s}")
        self._check_thresholds()
        width = self.median_filter_frames
        if isinstance(width, bool) or not isinstance(width, int) or width < 1 or width % 2 == 0:
            raise DetectorSettingsError(
                f"median_filter_frames must be an odd whole number >= 1, got {width!r}"
            )
        self._check_durations()
        for name in ("unknown_level_db", "gate_level_db"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise DetectorSettingsError(f"{name} must be a finite level in dB, got {value}")
        if not (math.isfinite(self.gate_hold_s) and self.gate_hold_s >= 0):
            raise DetectorSettingsError(f"gate_hold_s must be >= 0, got {self.gate_hold_s}")
        if not (math.isfinite(self.boundary_search_s) and self.boundary_search_s >= 0):
            raise DetectorSettingsError(
                f"boundary_search_s must be >= 0 seconds, got {self.boundary_search_s}"
            )
        steps = self.boundary_step_frames
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise DetectorSettingsError(
                f"boundary_step_frames must be a whole number >= 1, got {steps!r}"
            )
        if not math.isfinite(self.boundary_min_step_db):
            raise DetectorSettingsError(
                "boundary_min_step_db must be a finite level in dB, got "
                f"{self.boundary_min_step_db}"
            )
        if self.min_prominence_db is not None and not math.isfinite(self.min_prominence_db):
            raise DetectorSettingsError(
                f"min_prominence_db must be a finite level in dB or None, got "
                f"{self.min_prominence_db}"
            )
        if not (math.isfinite(self.prominence_max_s) and self.prominence_max_s >= 0):
            raise DetectorSettingsError(
                f"prominence_max_s must be >= 0 seconds, got {self.prominence_max_s}"
            )
        if not (math.isfinite(self.background_window_s) and self.background_window_s > 0):
            raise DetectorSettingsError(
                f"background_window_s must be a positive number of seconds, got "
                f"{self.background_window_s}"
            )
        if self.runner_up_count < 0:
            raise DetectorSettingsError(f"runner_up_count must be >= 0, got {self.runner_up_count}")

    def _check_labels(self) -> None:
        if not self.labels:
            raise DetectorSettingsError("labels must name at least one class")
        if len(set(self.labels)) != len(self.labels):
            raise DetectorSettingsError(f"labels must be unique, got {self.labels}")
        for label in self.labels:
            if not isinstance(label, str) or not label:
                raise DetectorSettingsError(f"labels must be non-empty strings, got {label!r}")
            if label in RESERVED_LABELS:
                raise DetectorSettingsError(
                    f"label {label!r} is reserved by the detector; rename that class"
                )
        extra_non_event = sorted(set(self.non_event_labels) - set(self.labels))
        if extra_non_event:
            raise DetectorSettingsError(
                "non_event_labels names labels the classifier does not have: "
                + ", ".join(extra_non_event)
            )
        if set(self.labels) <= set(self.non_event_labels):
            raise DetectorSettingsError("non_event_labels must leave at least one event class")
        for name, allowed in (
            ("onset_thresholds", self.labels),
            ("offset_thresholds", self.labels),
            ("min_durations_s", (*self.labels, UNKNOWN_LABEL)),
        ):
            extra = sorted(set(getattr(self, name)) - set(allowed))
            if extra:
                raise DetectorSettingsError(
                    f"{name} names labels the classifier does not have: {', '.join(extra)}"
                )

    def _check_thresholds(self) -> None:
        for label in self.labels:
            onset = self.onset_threshold(label)
            offset = self.offset_threshold(label)
            if not (0 < offset <= onset <= 1):
                raise DetectorSettingsError(
                    f"thresholds of {label!r} must satisfy 0 < offset <= onset <= 1, "
                    f"got onset {onset} and offset {offset}"
                )

    def _check_durations(self) -> None:
        for name in ("min_duration_s", "merge_gap_s", "max_duration_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise DetectorSettingsError(f"{name} must be a number >= 0 seconds, got {value}")
        for label, value in self.min_durations_s.items():
            if not (math.isfinite(value) and value >= 0):
                raise DetectorSettingsError(
                    f"min_durations_s[{label!r}] must be >= 0 seconds, got {value}"
                )
        max_frames = self.frames(self.max_duration_s)
        if max_frames < 1:
            raise DetectorSettingsError(
                f"max_duration_s ({self.max_duration_s} s) must be at least one frame "
                f"({self.frame_s} s)"
            )
        if self.frames(self.merge_gap_s) >= max_frames:
            raise DetectorSettingsError(
                f"merge_gap_s ({self.merge_gap_s} s) must be shorter than max_duration_s "
                f"({self.max_duration_s} s)"
            )
        for label in (*self.labels, UNKNOWN_LABEL):
            if self.frames(self.min_duration(label)) > max_frames:
                raise DetectorSettingsError(
                    f"the minimum duration of {label!r} ({self.min_duration(label)} s) must not "
                    f"exceed max_duration_s ({self.max_duration_s} s)"
                )

    @property
    def event_labels(self) -> tuple[str, ...]:
        """The labels that can become events, in score order."""
        return tuple(label for label in self.labels if label not in self.non_event_labels)

    def frames(self, seconds: float) -> int:
        """Whole frames in a duration, rounded to the nearest frame."""
        return round(seconds / self.frame_s)

    def onset_threshold(self, label: str) -> float:
        """The onset threshold of a class label."""
        return self.onset_thresholds.get(label, self.default_onset_threshold)

    def offset_threshold(self, label: str) -> float:
        """The offset threshold of a class label."""
        return self.offset_thresholds.get(label, self.default_offset_threshold)

    def min_duration(self, label: str) -> float:
        """The minimum event duration of a label (a class or ``unknown``), in seconds."""
        return self.min_durations_s.get(label, self.min_duration_s)

    @property
    def median_delay_frames(self) -> int:
        """Frames by which the median filter delays every decision."""
        return (self.median_filter_frames - 1) // 2
