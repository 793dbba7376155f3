"""Per-class onset thresholds tuned on a validation folder, and where the model keeps them.

Steps of ``tune_thresholds``:
1. run the sensor pipeline once per validation recording, recording the detector's frames
   (``run.run_pipeline``): the int8 model runs once, whatever the grid;
2. for each onset threshold of the grid (0.3 to 0.9 in steps of 0.1; offset = 0.6 × onset, the
   ratio of the defaults 0.5 / 0.3), replay the pure detector over the frames with every class
   at that threshold: a class's events depend only on its own scores and thresholds, so one
   replay scores all classes;
3. per class, keep the threshold with the best event-based F1 (ties: the one nearest the
   default onset threshold); a class without reference events in the validation set keeps the
   default and is not written.

Storage: ``model.json`` gains an optional ``"detector": {"onset_thresholds": {...},
"offset_thresholds": {...}}``. ``parse_manifest`` ignores keys it does not know, and the
model's SHA-256 covers ``model.tflite`` only, so the manifest contract holds; the edge does not
read the section yet (``noisefleet-train evaluate-events`` does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from noisefleet_core.events import DetectorSettings
from noisefleet_core.models.manifest import MANIFEST_FILE, ModelError, parse_manifest
from noisefleet_training.sed.metrics import evaluate_detections
from noisefleet_training.sed.run import PipelineRun, replay_events

ONSET_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
OFFSET_RATIO = 0.6
"""offset threshold = this × onset threshold (the defaults: 0.3 = 0.6 × 0.5)."""
DETECTOR_KEY = "detector"


def offset_for(onset: float) -> float:
    """The offset threshold paired with an onset threshold."""
    return round(OFFSET_RATIO * onset, 4)


@dataclass(frozen=True)
class TuningResult:
    onset_thresholds: dict[str, float]
    offset_thresholds: dict[str, float]
    f1_by_threshold: dict[str, dict[float, float | None]]
    """Per class, its event-based validation F1 at each grid onset threshold."""


def tune_thresholds(
    runs: Mapping[str, PipelineRun],
    reference: Mapping[str, Sequence[Any]],
    durations_s: Mapping[str, float],
    settings: DetectorSettings,
    grid: Sequence[float] = ONSET_GRID,
) -> TuningResult:
    """Per-class thresholds maximising event-based F1 on the recorded validation runs."""
    labels = settings.event_labels
    curves: dict[str, dict[float, float | None]] = {label: {} for label in labels}
    for onset in grid:
        trial = replace(
            settings,
            default_onset_threshold=onset,
            default_offset_threshold=offset_for(onset),
            onset_thresholds={},
            offset_thresholds={},
        )
        estimated = {name: replay_events(run.frames, trial) for name, run in runs.items()}
        scores = evaluate_detections(reference, estimated, labels, durations_s)
        for label in labels:
            curves[label][onset] = scores["event_based"]["per_class"][label]["f1"]
    present = {e.label for events in reference.values() for e in events}
    onsets: dict[str, float] = {}
    for label in labels:
        if label not in present:
            continue
        default = settings.onset_threshold(label)
        onsets[label] = max(grid, key=lambda t: (curves[label][t] or 0.0, -abs(t - default)))
    return TuningResult(onsets, {k: offset_for(v) for k, v in onsets.items()}, curves)


def _read_manifest_json(model_dir: Path) -> dict[str, Any]:
    path = model_dir / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: unreadable ({error})") from error
    if not isinstance(data, dict):
        raise ModelError(f"{path}: must hold a JSON object")
    return data


def read_model_thresholds(model_dir: Path) -> tuple[dict[str, float], dict[str, float]]:
    """The per-class (onset, offset) thresholds stored in ``model.json``; empty when none.

    Parsed by the model contract (``noisefleet_core.models.manifest``), as the edge reads them.
    """
    manifest = parse_manifest(_read_manifest_json(model_dir))
    return dict(manifest.onset_thresholds), dict(manifest.offset_thresholds)


def write_model_thresholds(model_dir: Path, result: TuningResult) -> Path:
    """Store the tuned thresholds in ``model.json`` (other keys untouched); returns its path."""
    data = _read_manifest_json(model_dir)
    data[DETECTOR_KEY] = {
        "onset_thresholds": dict(sorted(result.onset_thresholds.items())),
        "offset_thresholds": dict(sorted(result.offset_thresholds.items())),
    }
    path = model_dir / MANIFEST_FILE
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
