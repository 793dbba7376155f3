"""Detector settings changed from the command line (``KEY=VALUE``), validated once.

``parse_overrides`` turns ``["merge_gap_s=2", "median_filter_frames=9"]`` into typed values of
the scalar ``DetectorSettings`` fields named in ``OVERRIDABLE`` (whole numbers for frame counts,
seconds and thresholds as floats); ``apply_overrides`` builds the settings, whose own checks
then run (offset <= onset, odd median width, ...). Every mistake is one ``OverrideError`` line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from noisefleet_core.events import DetectorSettings
from noisefleet_core.events.settings import DetectorSettingsError

OVERRIDABLE: Mapping[str, type] = {
    "default_onset_threshold": float,
    "default_offset_threshold": float,
    "median_filter_frames": int,
    "min_duration_s": float,
    "merge_gap_s": float,
    "boundary_search_s": float,
}


class OverrideError(ValueError):
    """A ``KEY=VALUE`` detector override is malformed, unknown or invalid."""


def parse_overrides(pairs: Sequence[str]) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep:
            raise OverrideError(f"detector override {pair!r} is not KEY=VALUE")
        if key not in OVERRIDABLE:
            raise OverrideError(f"detector override {key!r} is not one of {', '.join(OVERRIDABLE)}")
        kind = OVERRIDABLE[key]
        try:
            out[key] = kind(value) if kind is float else int(value, 10)
        except ValueError:
            raise OverrideError(
                f"detector override {key}={value!r} needs a {kind.__name__}"
            ) from None
    return out


def apply_overrides(
    settings: DetectorSettings, overrides: Mapping[str, float | int]
) -> DetectorSettings:
    try:
        return replace(settings, **overrides)  # type: ignore[arg-type]
    except DetectorSettingsError as error:
        raise OverrideError(f"detector overrides {dict(overrides)}: {error}") from error
