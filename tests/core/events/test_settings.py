"""Validation of the detector settings: every bad value is refused with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from noisefleet_core.events import DetectorSettings, DetectorSettingsError

LABELS = ("dog_bark", "siren")


def test_defaults_and_per_label_overrides() -> None:
    settings = DetectorSettings(
        LABELS,
        onset_thresholds={"siren": 0.8},
        offset_thresholds={"siren": 0.6},
        min_durations_s={"unknown": 1.0},
    )
    assert settings.onset_threshold("dog_bark") == 0.5
    assert settings.offset_threshold("dog_bark") == 0.3
    assert settings.onset_threshold("siren") == 0.8
    assert settings.offset_threshold("siren") == 0.6
    assert settings.min_duration("unknown") == 1.0
    assert settings.min_duration("siren") == 0.3
    assert settings.frames(0.3) == 3
    assert settings.median_delay_frames == 2


def test_override_mappings_are_frozen() -> None:
    overrides = {"siren": 0.8}
    settings = DetectorSettings(LABELS, onset_thresholds=overrides)
    overrides["siren"] = 0.9
    assert settings.onset_threshold("siren") == 0.8
    with pytest.raises(TypeError):
        settings.onset_thresholds["siren"] = 0.1  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": ()}, "at least one class"),
        ({"labels": ("a", "a")}, "unique"),
        ({"labels": ("a", "")}, "non-empty"),
        ({"labels": ("a", "unknown")}, "reserved"),
        ({"labels": ("background",)}, "reserved"),
        ({"frame_s": 0.0}, "frame_s"),
        ({"default_offset_threshold": 0.6}, "offset <= onset"),
        ({"default_offset_threshold": 0.0}, "0 < offset"),
        ({"default_onset_threshold": 1.5}, "onset <= 1"),
        ({"offset_thresholds": {"siren": 0.9}}, "'siren'"),
        ({"onset_thresholds": {"cat": 0.9}}, "does not have: cat"),
        ({"min_durations_s": {"cat": 1.0}}, "does not have: cat"),
        ({"median_filter_frames": 4}, "odd"),
        ({"median_filter_frames": 0}, "odd"),
        ({"min_duration_s": -1.0}, "min_duration_s"),
        ({"min_durations_s": {"siren": float("nan")}}, "min_durations_s['siren']"),
        ({"merge_gap_s": 600.0}, "merge_gap_s"),
        ({"max_duration_s": 0.01}, "at least one frame"),
        ({"min_durations_s": {"unknown": 700.0}}, "must not exceed max_duration_s"),
        ({"unknown_level_db": float("inf")}, "unknown_level_db"),
        ({"gate_hold_s": -1.0}, "gate_hold_s"),
        ({"runner_up_count": -1}, "runner_up_count"),
        ({"non_event_labels": ("cat",)}, "does not have: cat"),
        ({"boundary_search_s": -0.1}, "boundary_search_s"),
        ({"min_prominence_db": float("inf")}, "min_prominence_db"),
        ({"background_window_s": 0.0}, "background_window_s"),
        ({"prominence_max_s": -1.0}, "prominence_max_s"),
        ({"boundary_step_frames": 0}, "boundary_step_frames"),
        ({"boundary_min_step_db": float("nan")}, "boundary_min_step_db"),
        ({"non_event_labels": LABELS}, "at least one event class"),
    ],
)
def test_invalid_settings_are_refused(changes: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"labels": LABELS, **changes}
    with pytest.raises(DetectorSettingsError, match=message.replace("[", r"\[")):
        DetectorSettings(**arguments)


def test_unknown_events_can_be_switched_off() -> None:
    assert DetectorSettings(LABELS, unknown_level_db=None).unknown_level_db is None


def test_non_event_labels_leave_the_event_labels() -> None:
    settings = DetectorSettings((*LABELS, "ambient"), non_event_labels=("ambient",))
    assert settings.non_event_labels == ("ambient",)
    assert settings.event_labels == LABELS
    assert DetectorSettings(LABELS).event_labels == LABELS
