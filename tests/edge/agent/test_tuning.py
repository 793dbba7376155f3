from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from noisefleet_core.events import DetectorSettings
from noisefleet_edge.agent.tuning import (
    SETTING_NAMES,
    SensorTuning,
    TuningError,
    changed_settings,
    detector_settings,
    event_is_reported,
    tuning_from_mapping,
    tuning_to_mapping,
)

LABELS = ("car_horn", "dog_bark", "siren")
MODEL_THRESHOLDS = ({"siren": 0.6}, {"siren": 0.4})


def test_defaults_are_the_detectors() -> None:
    tuning = SensorTuning()
    default = DetectorSettings(LABELS)
    assert detector_settings(tuning, LABELS, None) == default
    assert tuning.interval_s == 1.0
    assert tuning.levels_batch_s == 60.0
    assert tuning.enabled_labels is None
    assert tuning.events_on_start is False


def test_every_field_is_documented_and_is_a_setting() -> None:
    import ast
    import inspect
    import itertools

    from noisefleet_edge.agent import tuning as module

    tree = ast.parse(inspect.getsource(module.SensorTuning))
    body = tree.body[0].body  # type: ignore[attr-defined]
    documented = {
        node.target.id
        for node, after in itertools.pairwise(body)
        if isinstance(node, ast.AnnAssign)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
    }
    assert documented == set(SETTING_NAMES) == {f.name for f in fields(SensorTuning)}


def test_mapping_round_trip_is_json_ready() -> None:
    import json

    tuning = tuning_from_mapping(
        {
            "interval_s": 0.5,
            "levels_batch_s": 30,
            "gate_level_db": 50,
            "unknown_level_db": None,
            "onset_thresholds": {"siren": 0.7},
            "offset_thresholds": {"siren": 0.2, "dog_bark": 0.25},
            "enabled_labels": ["siren", "dog_bark"],
            "events_on_start": True,
            "min_duration_s": 1,
        },
        LABELS,
    )
    data = tuning_to_mapping(tuning)
    assert list(data) == list(SETTING_NAMES)
    assert json.loads(json.dumps(data)) == data
    assert data["offset_thresholds"] == {"dog_bark": 0.25, "siren": 0.2}
    assert data["enabled_labels"] == ["siren", "dog_bark"]
    assert isinstance(data["levels_batch_s"], float)
    assert tuning_from_mapping(data, LABELS) == tuning


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("interval_s", 0.05, "interval_s must be within 0.1 to 3600 s, got 0.05"),
        ("interval_s", 3601, "interval_s must be within 0.1 to 3600 s, got 3601"),
        ("interval_s", "1", "interval_s must be a number, got a string"),
        ("interval_s", True, "interval_s must be a number, got a boolean"),
        ("interval_s", None, "interval_s must be a number, got null"),
        ("levels_batch_s", 0.5, "levels_batch_s must be within 1 to 3600 s, got 0.5"),
        ("levels_batch_s", 7200, "levels_batch_s must be within 1 to 3600 s"),
        ("gate_level_db", float("nan"), "gate_level_db must be within -200 to 200 dB, got nan"),
        ("gate_level_db", [45], "gate_level_db must be a number, got a list"),
        ("unknown_level_db", float("inf"), "unknown_level_db must be within -200 to 200 dB"),
        ("unknown_level_db", "off", "unknown_level_db must be a number, got a string"),
        ("onset_threshold", 1.5, "onset_threshold must be within 0 to 1, got 1.5"),
        ("onset_threshold", -0.1, "onset_threshold must be within 0 to 1, got -0.1"),
        ("offset_threshold", {}, "offset_threshold must be a number, got a table"),
        ("onset_thresholds", [0.5], "onset_thresholds must be a table of label = threshold"),
        ("onset_thresholds", {"siren": 2}, "onset_thresholds.siren must be within 0 to 1, got 2"),
        ("offset_thresholds", {"siren": "x"}, "offset_thresholds.siren must be a number"),
        ("onset_thresholds", {"": 0.5}, "onset_thresholds: labels must be non-empty strings"),
        ("min_duration_s", -1, "min_duration_s must be within 0 to 600 s, got -1"),
        ("min_duration_s", 601, "min_duration_s must be within 0 to 600 s, got 601"),
        ("enabled_labels", "siren", "enabled_labels must be a list of labels or null (all)"),
        ("enabled_labels", ["siren", 3], "enabled_labels must hold label names (strings) only"),
        ("enabled_labels", ["siren", "siren"], "enabled_labels names siren more than once"),
        ("events_on_start", 1, "events_on_start must be true or false, got the number 1"),
        ("events_on_start", "yes", "events_on_start must be true or false, got a string"),
    ],
)
def test_each_setting_refuses_a_bad_type_or_range(name: str, value: Any, reason: str) -> None:
    with pytest.raises(TuningError) as caught:
        tuning_from_mapping({name: value}, LABELS)
    assert str(caught.value) == reason or str(caught.value).startswith(reason)
    assert "\n" not in str(caught.value)


@pytest.mark.timeout(10)  # a quadratic check took 36 s for these 60 000 labels
def test_a_long_label_list_is_checked_in_linear_time() -> None:
    labels = [*(f"x{i}" for i in range(60000)), "siren", "siren", "x7"]
    with pytest.raises(TuningError) as caught:
        tuning_from_mapping({"enabled_labels": labels}, LABELS)
    assert str(caught.value) == "enabled_labels names siren, x7 more than once"
    many = [f"x{i}" for i in range(20)] * 2
    with pytest.raises(TuningError, match=r"names x0, x1, x10, x11, x12 \(20 labels in all\)"):
        tuning_from_mapping({"enabled_labels": many}, LABELS)


def test_direct_construction_is_validated_the_same_way() -> None:
    with pytest.raises(TuningError, match=r"interval_s must be within 0\.1 to 3600 s"):
        SensorTuning(interval_s=0)
    tuning = SensorTuning(onset_thresholds={"siren": 1}, enabled_labels=["siren"])  # type: ignore[arg-type]
    assert tuning.enabled_labels == ("siren",)
    assert tuning.onset_thresholds == {"siren": 1.0}
    with pytest.raises(TypeError):
        tuning.onset_thresholds["siren"] = 0.5  # type: ignore[index]


def test_unknown_setting_names_the_known_ones() -> None:
    with pytest.raises(TuningError) as caught:
        tuning_from_mapping({"gate_level": 50}, LABELS)
    assert str(caught.value) == (
        "unknown setting 'gate_level'; known: interval_s, levels_batch_s, gate_level_db, "
        "unknown_level_db, onset_threshold, offset_threshold, onset_thresholds, "
        "offset_thresholds, min_duration_s, enabled_labels, events_on_start"
    )
    with pytest.raises(TuningError, match=r"unknown setting 'a'; .* \(2 unknown in all\)"):
        tuning_from_mapping({"b": 1, "a": 2, "gate_level_db": 50}, LABELS)


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(TuningError, match="settings must be a table of name = value, got a list"):
        tuning_from_mapping([("gate_level_db", 50)], LABELS)  # type: ignore[arg-type]


def test_partial_change_keeps_the_rest() -> None:
    base = tuning_from_mapping(
        {"gate_level_db": 40, "enabled_labels": ["siren"], "onset_thresholds": {"siren": 0.8}},
        LABELS,
    )
    changed = tuning_from_mapping({"interval_s": 5}, LABELS, base=base)
    assert changed.interval_s == 5.0
    assert changed.gate_level_db == 40.0
    assert changed.enabled_labels == ("siren",)
    assert changed.onset_thresholds == {"siren": 0.8}
    assert changed_settings(base, changed) == ("interval_s",)
    # A per-label map is replaced as a whole: sending it without an entry removes that entry.
    cleared = tuning_from_mapping({"onset_thresholds": {}}, LABELS, base=changed)
    assert cleared.onset_thresholds == {}
    assert changed_settings(changed, cleared) == ("onset_thresholds",)
    assert tuning_from_mapping({}, LABELS, base=base) == base


def test_a_change_is_all_or_nothing() -> None:
    base = SensorTuning()
    with pytest.raises(TuningError, match="onset_threshold must be within 0 to 1"):
        tuning_from_mapping({"gate_level_db": 70, "onset_threshold": 3}, LABELS, base=base)
    assert base == SensorTuning()  # frozen: nothing was applied
    with pytest.raises(TuningError, match="unknown setting 'oops'"):
        tuning_from_mapping({"gate_level_db": 70, "oops": 1}, LABELS, base=base)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"onset_threshold": 0.3, "offset_threshold": 0.4},
            "the detector refuses these settings: thresholds of 'car_horn' must satisfy "
            "0 < offset <= onset <= 1, got onset 0.3 and offset 0.4",
        ),
        (
            {"onset_thresholds": {"dog_bark": 0.2}},
            "thresholds of 'dog_bark' must satisfy 0 < offset <= onset <= 1, got onset 0.2 and "
            "offset 0.3",
        ),
        ({"offset_threshold": 0}, "thresholds of 'car_horn' must satisfy 0 < offset"),
    ],
)
def test_offset_above_onset_is_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(TuningError, match=reason):
        tuning_from_mapping(changes, LABELS)


def test_offset_above_the_models_tuned_onset_is_refused() -> None:
    # Fine with the default offset (0.3), but the model's tuned offset of siren (0.4) is above.
    assert tuning_from_mapping({"onset_thresholds": {"siren": 0.35}}, LABELS).onset_thresholds
    with pytest.raises(TuningError, match=r"thresholds of 'siren' .* onset 0\.35 and offset 0\.4"):
        tuning_from_mapping(
            {"onset_thresholds": {"siren": 0.35}}, LABELS, model_thresholds=MODEL_THRESHOLDS
        )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"enabled_labels": ["siren", "gunshot"]},
            "enabled_labels names label(s) the model does not have: gunshot; the model's "
            "labels: car_horn, dog_bark, siren",
        ),
        (
            {"onset_thresholds": {"unknown": 0.5}},
            "onset_thresholds names label(s) the model does not have: unknown (unknown is not a "
            "model label)",
        ),
        ({"offset_thresholds": {"cat": 0.1}}, "offset_thresholds names label(s) the model does"),
    ],
)
def test_labels_the_model_does_not_have_are_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(TuningError) as caught:
        tuning_from_mapping(changes, LABELS)
    assert str(caught.value).startswith(reason)


def test_detector_settings_use_model_thresholds_unless_set_per_label() -> None:
    tuning = tuning_from_mapping(
        {
            "onset_threshold": 0.55,
            "offset_threshold": 0.35,
            "onset_thresholds": {"dog_bark": 0.9},
            "gate_level_db": 52,
            "unknown_level_db": None,
            "min_duration_s": 0.5,
        },
        LABELS,
        model_thresholds=MODEL_THRESHOLDS,
    )
    settings = detector_settings(tuning, LABELS, MODEL_THRESHOLDS)
    assert settings == DetectorSettings(
        LABELS,
        default_onset_threshold=0.55,
        default_offset_threshold=0.35,
        onset_thresholds={"siren": 0.6, "dog_bark": 0.9},
        offset_thresholds={"siren": 0.4},
        min_duration_s=0.5,
        unknown_level_db=None,
        gate_level_db=52.0,
    )
    assert [settings.onset_threshold(x) for x in LABELS] == [0.55, 0.9, 0.6]
    assert [settings.offset_threshold(x) for x in LABELS] == [0.35, 0.35, 0.4]
    # An explicit per-label setting wins over the model's tuned value.
    explicit = tuning_from_mapping({"onset_thresholds": {"siren": 0.8}}, LABELS, base=tuning)
    assert detector_settings(explicit, LABELS, MODEL_THRESHOLDS).onset_threshold("siren") == 0.8
    assert detector_settings(explicit, LABELS, MODEL_THRESHOLDS).offset_threshold("siren") == 0.4


def test_detector_settings_match_the_models_manifest() -> None:
    import json

    from noisefleet_core.models.manifest import parse_manifest
    from noisefleet_edge.agent.tuning import model_thresholds
    from noisefleet_edge.classifier import default_model_dir

    data = json.loads((default_model_dir() / "model.json").read_text())
    data["detector"] = {"onset_thresholds": {"siren": 0.7}, "offset_thresholds": {"siren": 0.45}}
    manifest = parse_manifest(data)
    thresholds = model_thresholds(manifest)
    assert thresholds == ({"siren": 0.7}, {"siren": 0.45})
    settings = detector_settings(SensorTuning(), manifest.labels, thresholds)
    assert settings.onset_threshold("siren") == 0.7
    assert settings.offset_threshold("siren") == 0.45
    assert settings.onset_threshold("dog_bark") == DetectorSettings.default_onset_threshold


def test_disabled_labels_are_filtered_not_untuned() -> None:
    tuning = tuning_from_mapping({"enabled_labels": ["siren"]}, LABELS)
    assert event_is_reported(tuning, "siren")
    assert not event_is_reported(tuning, "dog_bark")
    assert event_is_reported(tuning, "unknown")
    # The detector still tracks disabled labels, so their sound does not turn into "unknown".
    assert detector_settings(tuning, LABELS) == DetectorSettings(LABELS)
    nothing = tuning_from_mapping({"enabled_labels": []}, LABELS)
    assert not any(event_is_reported(nothing, label) for label in LABELS)
    assert all(event_is_reported(SensorTuning(), label) for label in LABELS)
