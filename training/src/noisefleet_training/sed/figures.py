"""Sound event detection figures of a model folder, for its report and model card.

Steps of ``detection_figures``:
1. write the evaluation soundscapes (``generate.write_evaluation_soundscapes``, SNR 0-20 dB):
   TRAIN-setting ones (in-distribution) and HELDOUT-setting ones (the held-out figure); the
   default HELDOUT set (10 x 60 s, seed 2024) is the one the issue's baseline was measured on;
2. run the edge's sensor pipeline with the default detector settings over each (``run``);
3. keep the headline numbers: event-based and segment-based F1, error rate, macro F1,
   label-agnostic F1, per-class F1, and the share of windows the level gate saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from noisefleet_core.events import DetectorSettings
from noisefleet_edge.classifier import SoundClassifier
from noisefleet_training.sed.files import load_evaluation_set
from noisefleet_training.sed.generate import EVALUATION_SNR_DB, write_evaluation_soundscapes
from noisefleet_training.sed.metrics import evaluate_detections
from noisefleet_training.sed.run import SYNTHETIC_CALIBRATION_OFFSET_DB, run_pipeline
from noisefleet_training.synth import HELDOUT_SETTINGS, TRAIN_SETTINGS, GeneratorSettings


@dataclass(frozen=True)
class SoundscapeSet:
    """Which evaluation soundscapes to write: preset, how many, of what length, which seed."""

    settings: GeneratorSettings
    count: int
    seed: int
    duration_s: float = 60.0


DEFAULT_SETS: Mapping[str, SoundscapeSet] = {
    "train_soundscapes": SoundscapeSet(TRAIN_SETTINGS, 10, 7),
    "heldout_soundscapes": SoundscapeSet(HELDOUT_SETTINGS, 10, 2024),
}


def _round(value: Any) -> Any:
    return None if value is None else round(float(value), 3)


def _headline(metrics: dict[str, Any], gate_saved: float, spec: SoundscapeSet) -> dict[str, Any]:
    event, segment = metrics["event_based"], metrics["segment_based"]
    agnostic = metrics["label_agnostic"]
    return {
        "preset": spec.settings.name,
        "soundscapes": spec.count,
        "seconds": spec.count * spec.duration_s,
        "seed": spec.seed,
        "snr_db": [EVALUATION_SNR_DB.low, EVALUATION_SNR_DB.high],
        "reference_events": metrics["reference_events"],
        "detected_events": metrics["detected_events"],
        "event_f1": _round(event["f1"]),
        "event_macro_f1": _round(event["macro_f1"]),
        "event_error_rate": _round(event["error_rate"]),
        "segment_f1": _round(segment["f1"]),
        "segment_macro_f1": _round(segment["macro_f1"]),
        "segment_error_rate": _round(segment["error_rate"]),
        "label_agnostic_event_f1": _round(agnostic["event_based"]["f1"]),
        "label_agnostic_segment_f1": _round(agnostic["segment_based"]["f1"]),
        "per_class_segment_f1": {
            label: _round(scores["f1"]) for label, scores in segment["per_class"].items()
        },
        "gate_saved_fraction": round(gate_saved, 3),
    }


def detection_figures(
    model_dir: Path,
    work: Path,
    sets: Mapping[str, SoundscapeSet] = DEFAULT_SETS,
) -> dict[str, Any]:
    """Headline detection figures of the model in ``model_dir`` on each set of ``sets``."""
    classifier = SoundClassifier(model_dir)
    settings = DetectorSettings(
        classifier.labels, non_event_labels=classifier.manifest.non_event_labels
    )
    figures: dict[str, Any] = {
        "calibration_offset_db": SYNTHETIC_CALIBRATION_OFFSET_DB,
        "detector": "default DetectorSettings",
    }
    for name, spec in sets.items():
        folder = work / name
        write_evaluation_soundscapes(folder, spec.settings, spec.count, spec.seed, spec.duration_s)
        evaluation = load_evaluation_set(folder)
        runs = {
            r.name: run_pipeline(
                r.audio_path, classifier, settings, SYNTHETIC_CALIBRATION_OFFSET_DB
            )
            for r in evaluation.recordings
        }
        metrics = evaluate_detections(
            {r.name: r.events for r in evaluation.recordings},
            {name_: run.events for name_, run in runs.items()},
            settings.event_labels,
            {r.name: r.duration_s for r in evaluation.recordings},
        )
        total = sum(run.windows_total for run in runs.values())
        classified = sum(run.windows_classified for run in runs.values())
        figures[name] = _headline(metrics, 1.0 - classified / total if total else 0.0, spec)
    return figures
