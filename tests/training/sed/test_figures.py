"""Detection figures for the model report and card: measured by the edge pipeline."""

from __future__ import annotations

from pathlib import Path

from noisefleet_edge.classifier import default_model_dir
from noisefleet_training.report import model_card
from noisefleet_training.sed.figures import DEFAULT_SETS, SoundscapeSet, detection_figures
from noisefleet_training.synth import HELDOUT_SETTINGS


def test_the_default_heldout_set_is_the_issues_reference_set() -> None:
    heldout = DEFAULT_SETS["heldout_soundscapes"]
    assert (heldout.settings, heldout.count, heldout.seed, heldout.duration_s) == (
        HELDOUT_SETTINGS,
        10,
        2024,
        60.0,
    )
    assert DEFAULT_SETS["train_soundscapes"].settings.name == "train"


def test_figures_of_a_model_and_their_card_table(tmp_path: Path) -> None:
    sets = {"heldout_soundscapes": SoundscapeSet(HELDOUT_SETTINGS, 1, 11, 20.0)}
    figures = detection_figures(default_model_dir(), tmp_path, sets)
    heldout = figures["heldout_soundscapes"]
    assert (heldout["preset"], heldout["soundscapes"], heldout["seconds"]) == ("heldout", 1, 20.0)
    assert heldout["reference_events"] >= 1
    assert 0.0 <= heldout["gate_saved_fraction"] <= 1.0
    assert set(heldout["per_class_segment_f1"]) >= {"siren", "dog_bark"}
    assert "ambient" not in heldout["per_class_segment_f1"]
    card = model_card(
        {
            "name": "m",
            "labels": ["a"],
            "data_description": "",
            "feature_params_hash": "h",
            "feature_params": {},
            "model": {
                "architecture": "cnn",
                "parameters": 1,
                "macc": 1,
                "tflite_bytes": 1024,
                "int8_latency_ms": 0.1,
                "latency_machine": "x",
            },
            "training": "",
            "splits": {},
            "limits": "",
            "sound_event_detection": figures,
        }
    )
    assert "## Sound event detection" in card
    assert "heldout_soundscapes: 1 x 20 s heldout (seed 11)" in card
