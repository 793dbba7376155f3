"""The model folder manifest: parsing, and refusing incompatible or corrupt models."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from noisefleet_core.features.logmel import FeatureParams
from noisefleet_core.features.waveform import WaveformParams
from noisefleet_core.models.manifest import (
    ModelError,
    ModelManifest,
    Quantization,
    check_compatible,
    parse_manifest,
    sha256_hex,
)

MODEL_BYTES = b"not really a tflite model, but bytes with a hash"


def _manifest(**changes: Any) -> ModelManifest:
    params = FeatureParams()
    manifest = ModelManifest(
        name="test",
        labels=("a", "b"),
        feature_params=params,
        feature_params_hash=params.params_hash,
        model_sha256=sha256_hex(MODEL_BYTES),
        input_quantization=Quantization(0.05, -3),
        output_quantization=Quantization(1 / 256, -128),
    )
    return dataclasses.replace(manifest, **changes)


def test_round_trip_through_json() -> None:
    manifest = _manifest()
    assert parse_manifest(manifest.to_json()) == manifest
    check_compatible(manifest, MODEL_BYTES)


def test_feature_hash_mismatch_is_refused_with_advice() -> None:
    data = _manifest().to_json()
    data["feature_params"]["n_mels"] = 40  # parameters changed, hash recorded for the old ones
    manifest = parse_manifest(data)
    with pytest.raises(ModelError, match="retrain the model"):
        check_compatible(manifest, MODEL_BYTES)


def test_corrupt_model_file_is_refused() -> None:
    with pytest.raises(ModelError, match="SHA-256"):
        check_compatible(_manifest(), MODEL_BYTES + b"!")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("manifest_version", 99, "manifest_version"),
        ("labels", [], "labels"),
        ("labels", ["a", "a"], "unique"),
        ("labels", ["a", "unknown"], "unique"),
        ("feature_params", {"n_mels": 0}, "feature_params"),
        ("aggregation", "median", "aggregation"),
        ("unknown_threshold", 1.5, "unknown_threshold"),
        ("input_quantization", {"scale": "x"}, "input_quantization"),
        ("model_sha256", 5, "model_sha256"),
    ],
)
def test_invalid_manifests_are_refused(key: str, value: object, message: str) -> None:
    data = _manifest().to_json()
    data[key] = value
    with pytest.raises(ModelError, match=message):
        parse_manifest(data)


def test_non_object_is_refused() -> None:
    with pytest.raises(ModelError, match="object"):
        parse_manifest(["not", "a", "dict"])


def test_tuned_detector_thresholds_round_trip_and_are_checked() -> None:
    manifest = _manifest(onset_thresholds=(("a", 0.7),), offset_thresholds=(("a", 0.4),))
    data = manifest.to_json()
    assert data["detector"] == {"onset_thresholds": {"a": 0.7}, "offset_thresholds": {"a": 0.4}}
    assert parse_manifest(data) == manifest
    assert "detector" not in _manifest().to_json()
    for bad in ({"onset_thresholds": {"z": 0.5}}, {"onset_thresholds": {"a": 2.0}}, [1]):
        data["detector"] = bad
        with pytest.raises(ModelError, match="detector"):
            parse_manifest(data)


def test_non_event_labels_round_trip_and_are_checked() -> None:
    manifest = _manifest(non_event_labels=("b",))
    data = manifest.to_json()
    assert data["non_event_labels"] == ["b"]
    assert parse_manifest(data) == manifest
    assert "non_event_labels" not in _manifest().to_json()  # older readers see no change
    for bad in (["z"], ["b", "b"], ["a", "b"], "b", [1]):
        data["non_event_labels"] = bad
        with pytest.raises(ModelError, match="non_event_labels"):
            parse_manifest(data)


def _waveform_manifest() -> ModelManifest:
    params = WaveformParams()
    return ModelManifest(
        name="yamnet-head",
        labels=("a", "b"),
        feature_params=None,
        feature_params_hash=params.params_hash,
        model_sha256=sha256_hex(MODEL_BYTES),
        input_quantization=None,
        output_quantization=None,
        waveform_params=params,
    )


def test_waveform_model_round_trips_and_log_mel_json_is_unchanged() -> None:
    manifest = _waveform_manifest()
    data = manifest.to_json()
    assert data["input_kind"] == "waveform"
    assert "feature_params" not in data
    assert "input_quantization" not in data
    parsed = parse_manifest(data)
    assert parsed == manifest
    assert parsed.input_kind == "waveform"
    assert (parsed.sample_rate_hz, parsed.window_samples) == (16000, 15600)
    check_compatible(parsed, MODEL_BYTES)
    # A log-mel manifest reads as before: no input_kind key, older edges see no change.
    old = _manifest().to_json()
    assert "input_kind" not in old
    assert "waveform_params" not in old
    assert parse_manifest(old).input_kind == "log_mel"


def test_waveform_manifest_problems_are_refused() -> None:
    data = _waveform_manifest().to_json()
    with pytest.raises(ModelError, match="input_kind"):
        parse_manifest({**data, "input_kind": "spectrogram"})
    with pytest.raises(ModelError, match="waveform_params"):
        parse_manifest({**data, "waveform_params": {"window_samples": -1}})
    changed = {**data, "waveform_params": {**data["waveform_params"], "target_rms_dbfs": -30.0}}
    with pytest.raises(ModelError, match="waveform input with hash"):
        check_compatible(parse_manifest(changed), MODEL_BYTES)
    log_mel = _manifest().to_json()
    del log_mel["input_quantization"]
    with pytest.raises(ModelError, match="needs input_quantization"):
        parse_manifest(log_mel)
    with pytest.raises(ModelError, match="either"):
        dataclasses.replace(_waveform_manifest(), feature_params=FeatureParams())
