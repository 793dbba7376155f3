"""The settings of one sensor that may change while the agent runs, validated in one place.

The TOML config at start-up and every ``set`` command go through ``tuning_from_mapping``:

1. refuse a key that is not a setting (``unknown setting 'gate_level'; known: …``);
2. lay the given values over ``base`` (the settings in force, or the defaults): a partial change
   keeps everything it does not name; a per-label map (``onset_thresholds``…) is replaced as a
   whole, so an entry is removed by sending the map without it;
3. check each value's type and range (``SensorTuning.__post_init__``, shared with direct
   construction), then the labels it names against the model's;
4. build the ``DetectorSettings`` the detector would run with, so nothing the detector would
   refuse (an offset above its onset, after the model's tuned thresholds apply) is accepted.
Any problem raises ``TuningError`` with one line naming the setting; nothing is applied halfway.

Disabled labels (``enabled_labels``) are filtered, not untuned: the detector still tracks them,
and the agent drops their event reports (``event_is_reported``). Pushing their onset above 1
instead would stop them from starting, and then a loud disabled sound (an air conditioner) that
no class explains would come back as an ``unknown`` event. Energy shares in the level records
keep naming disabled labels: they say what caused the noise, which is measurement, not an event
report.

Defaults come from the detector's and the meter's own definitions, never a second copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from noisefleet_core.acoustics.meter import MAX_INTERVAL_S, MIN_INTERVAL_S
from noisefleet_core.events import DetectorSettings, DetectorSettingsError
from noisefleet_core.models.manifest import UNKNOWN_LABEL, ModelManifest
from noisefleet_edge.errors import NoisefleetEdgeError

ModelThresholds = tuple[Mapping[str, float], Mapping[str, float]]
"""The (onset, offset) per-label thresholds tuned for a model (from its model.json)."""

MIN_BATCH_S = 1.0
MAX_BATCH_S = 3600.0
LEVEL_RANGE_DB = (-200.0, 200.0)
"""Allowed gate and unknown levels: dB SPL when calibrated, dBFS (negative) otherwise."""


class TuningError(NoisefleetEdgeError):
    """A setting is unknown or invalid; the message names it and says why (one line)."""


def _empty() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True)
class SensorTuning:
    """The settings of one sensor that may change at run time (over MQTT or in the config)."""

    interval_s: float = 1.0
    """Length of one level record, 0.1 s to 1 h."""
    levels_batch_s: float = 60.0
    """How often the level records gathered so far are sent as one message, 1 s to 1 h."""
    gate_level_db: float = DetectorSettings.gate_level_db
    """The classifier runs only for frames at or above this LAeq (dB SPL when calibrated)."""
    unknown_level_db: float | None = DetectorSettings.unknown_level_db
    """Frames at or above this LAeq with no class active are ``unknown`` events; None: off."""
    onset_threshold: float = DetectorSettings.default_onset_threshold
    """Score at which an event starts, for labels without their own (0 to 1)."""
    offset_threshold: float = DetectorSettings.default_offset_threshold
    """Score below which an event stops, for labels without their own (0 to 1, <= onset)."""
    onset_thresholds: Mapping[str, float] = field(default_factory=_empty)
    """Per-label onset thresholds; they win over the model's tuned ones and the default."""
    offset_thresholds: Mapping[str, float] = field(default_factory=_empty)
    """Per-label offset thresholds; they win over the model's tuned ones and the default."""
    min_duration_s: float = DetectorSettings.min_duration_s
    """Events shorter than this are dropped, 0 to 600 s."""
    enabled_labels: tuple[str, ...] | None = None
    """The model's labels whose events are reported; None: all. ``unknown`` is always reported
    (switch it off with ``unknown_level_db``)."""
    events_on_start: bool = False
    """Also report an event when it starts, not only when it ends."""

    def __post_init__(self) -> None:
        for name, parse in _PARSERS.items():
            object.__setattr__(self, name, parse(name, getattr(self, name)))


SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in fields(SensorTuning))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_name(value: object) -> str:
    names = {bool: "a boolean", str: "a string", list: "a list", tuple: "a list", dict: "a table"}
    if value is None:
        return "null"
    if _is_number(value):
        return f"the number {value}"
    return names.get(type(value), "a table" if isinstance(value, Mapping) else type(value).__name__)


def _number(low: float, high: float, unit: str = "") -> Callable[[str, object], float]:
    def parse(name: str, value: object) -> float:
        if not _is_number(value):
            raise TuningError(f"{name} must be a number, got {_type_name(value)}")
        number = float(value)  # type: ignore[arg-type]
        if not (math.isfinite(number) and low <= number <= high):
            raise TuningError(f"{name} must be within {low:g} to {high:g}{unit}, got {value}")
        return number

    return parse


def _optional(parse: Callable[[str, object], float]) -> Callable[[str, object], float | None]:
    def parse_optional(name: str, value: object) -> float | None:
        return None if value is None else parse(name, value)

    return parse_optional


def _threshold_map(name: str, value: object) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise TuningError(f"{name} must be a table of label = threshold, got {_type_name(value)}")
    parse = _number(0.0, 1.0)
    out: dict[str, float] = {}
    for label in sorted(value, key=str):
        if not isinstance(label, str) or not label:
            raise TuningError(f"{name}: labels must be non-empty strings, got {label!r}")
        out[label] = parse(f"{name}.{label}", value[label])
    return MappingProxyType(out)


def _labels(name: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise TuningError(f"{name} must be a list of labels or null (all), got {_type_name(value)}")
    if not all(isinstance(label, str) for label in value):
        raise TuningError(f"{name} must hold label names (strings) only")
    seen: set[str] = set()
    repeated: set[str] = set()
    for label in value:  # linear: a long list must not stall the agent
        (repeated if label in seen else seen).add(label)
    if repeated:
        duplicates = sorted(repeated)
        more = f" ({len(duplicates)} labels in all)" if len(duplicates) > 5 else ""
        raise TuningError(f"{name} names {', '.join(duplicates[:5])}{more} more than once")
    return tuple(value)


def _boolean(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TuningError(f"{name} must be true or false, got {_type_name(value)}")
    return value


_PARSERS: dict[str, Callable[[str, object], Any]] = {
    "interval_s": _number(MIN_INTERVAL_S, MAX_INTERVAL_S, " s"),
    "levels_batch_s": _number(MIN_BATCH_S, MAX_BATCH_S, " s"),
    "gate_level_db": _number(*LEVEL_RANGE_DB, " dB"),
    "unknown_level_db": _optional(_number(*LEVEL_RANGE_DB, " dB")),
    "onset_threshold": _number(0.0, 1.0),
    "offset_threshold": _number(0.0, 1.0),
    "onset_thresholds": _threshold_map,
    "offset_thresholds": _threshold_map,
    "min_duration_s": _number(0.0, DetectorSettings.max_duration_s, " s"),
    "enabled_labels": _labels,
    "events_on_start": _boolean,
}


def check_labels(tuning: SensorTuning, labels: tuple[str, ...]) -> None:
    """Refuse settings that name labels the model does not have."""
    known = set(labels)
    for name in ("onset_thresholds", "offset_thresholds", "enabled_labels"):
        named = getattr(tuning, name) or ()
        extra = sorted(set(named) - known)
        if extra:
            hint = " (unknown is not a model label)" if UNKNOWN_LABEL in extra else ""
            raise TuningError(
                f"{name} names label(s) the model does not have: {', '.join(extra)}{hint}; "
                f"the model's labels: {', '.join(labels)}"
            )


def model_thresholds(manifest: ModelManifest) -> ModelThresholds:
    """The per-label thresholds tuned for a model, as ``detector_settings`` takes them."""
    return dict(manifest.onset_thresholds), dict(manifest.offset_thresholds)


def detector_settings(
    tuning: SensorTuning,
    labels: tuple[str, ...],
    model_thresholds: ModelThresholds | None = None,
) -> DetectorSettings:
    """The detector's settings: per label, an explicit tuning threshold wins over the model's
    tuned one, which wins over the tuning's default. ``DetectorSettingsError`` if refused."""
    model_onsets, model_offsets = model_thresholds or ({}, {})
    return DetectorSettings(
        labels,
        default_onset_threshold=tuning.onset_threshold,
        default_offset_threshold=tuning.offset_threshold,
        onset_thresholds={**model_onsets, **tuning.onset_thresholds},
        offset_thresholds={**model_offsets, **tuning.offset_thresholds},
        min_duration_s=tuning.min_duration_s,
        unknown_level_db=tuning.unknown_level_db,
        gate_level_db=tuning.gate_level_db,
    )


def check_fits_model(
    tuning: SensorTuning,
    labels: tuple[str, ...],
    model_thresholds: ModelThresholds | None = None,
) -> None:
    """Refuse settings the model's labels or the detector would not take (``TuningError``)."""
    check_labels(tuning, labels)
    try:
        detector_settings(tuning, labels, model_thresholds)
    except DetectorSettingsError as error:
        raise TuningError(f"the detector refuses these settings: {error}") from None


def tuning_from_mapping(
    data: Mapping[str, object],
    labels: tuple[str, ...],
    base: SensorTuning | None = None,
    model_thresholds: ModelThresholds | None = None,
) -> SensorTuning:
    """``base`` (default: the defaults) with the settings in ``data``, all valid or none."""
    if not isinstance(data, Mapping):
        raise TuningError(f"settings must be a table of name = value, got {_type_name(data)}")
    unknown = sorted((key for key in data if key not in SETTING_NAMES), key=str)
    if unknown:
        raise TuningError(
            f"unknown setting {unknown[0]!r}; known: {', '.join(SETTING_NAMES)}"
            + (f" ({len(unknown)} unknown in all)" if len(unknown) > 1 else "")
        )
    changes: dict[str, Any] = {str(key): value for key, value in data.items()}
    tuning = replace(base or SensorTuning(), **changes)
    check_fits_model(tuning, labels, model_thresholds)
    return tuning


def tuning_to_mapping(tuning: SensorTuning) -> dict[str, Any]:
    """Every setting, JSON-ready (for the state report and the config)."""
    out: dict[str, Any] = {}
    for name in SETTING_NAMES:
        value = getattr(tuning, name)
        if isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def changed_settings(old: SensorTuning, new: SensorTuning) -> tuple[str, ...]:
    """The names of the settings that differ, so the agent rebuilds only what they affect."""
    return tuple(name for name in SETTING_NAMES if getattr(old, name) != getattr(new, name))


def event_is_reported(tuning: SensorTuning, label: str) -> bool:
    """Whether events of ``label`` are reported (``unknown`` always is)."""
    return tuning.enabled_labels is None or label == UNKNOWN_LABEL or label in tuning.enabled_labels
