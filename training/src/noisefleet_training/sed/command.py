"""``noisefleet-train evaluate-events DIR``: how well the edge detects the labelled events in DIR.

Steps:
1. load the model (``--model``, default: the edge's built-in one) and its stored per-class
   thresholds (``model.json`` ``"detector"``, unless ``--ignore-model-thresholds``);
2. with ``--tune-on VALIDATION_DIR``: run the pipeline over the validation recordings, tune
   per-class onset thresholds (``tune``), use them, and with ``--write-thresholds`` store them in
   the model folder;
3. run the sensor pipeline over every labelled recording of DIR (``run``) and score its events
   (``metrics``): event-based, segment-based, label-agnostic;
4. print a table and the share of analysis windows the level gate saved; ``--json`` writes all
   figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from noisefleet_core.events import DetectorSettings, DetectorSettingsError
from noisefleet_core.models.manifest import ModelError
from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_training.datasets.base import DatasetError
from noisefleet_training.sed.files import EvaluationSet, load_evaluation_set
from noisefleet_training.sed.metrics import evaluate_detections
from noisefleet_training.sed.run import SYNTHETIC_CALIBRATION_OFFSET_DB, PipelineRun, run_pipeline
from noisefleet_training.sed.tune import (
    offset_for,
    read_model_thresholds,
    tune_thresholds,
    write_model_thresholds,
)

DEFAULT_ONSET = 0.5


class EvaluationError(ValueError):
    """The evaluation cannot run; the message is one line for the operator."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="WAV files with X.txt label tracks")
    parser.add_argument("--model", type=Path, help="model folder (default: the edge's built-in)")
    parser.add_argument(
        "--calibration-offset-db",
        type=float,
        default=SYNTHETIC_CALIBRATION_OFFSET_DB,
        help="dB SPL = dBFS + this (default %(default)s, chosen for the synthetic soundscapes)",
    )
    parser.add_argument(
        "--onset-threshold",
        type=float,
        help=f"default onset threshold for classes without a stored one ({DEFAULT_ONSET})",
    )
    parser.add_argument(
        "--offset-threshold", type=float, help="default offset threshold (0.6 × onset)"
    )
    parser.add_argument(
        "--ignore-model-thresholds",
        action="store_true",
        help="ignore per-class thresholds stored in model.json",
    )
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write all figures here")
    parser.add_argument(
        "--tune-on", type=Path, metavar="VALIDATION_DIR", help="tune per-class onset thresholds"
    )
    parser.add_argument(
        "--write-thresholds",
        action="store_true",
        help="store the tuned thresholds in the --model folder's model.json",
    )


@dataclass
class _Runs:
    runs: dict[str, PipelineRun]

    def gate(self) -> dict[str, Any]:
        total = sum(r.windows_total for r in self.runs.values())
        classified = sum(r.windows_classified for r in self.runs.values())
        return {
            "windows_total": total,
            "windows_classified": classified,
            "saved_fraction": 1.0 - classified / total if total else 0.0,
        }


def _run_all(
    evaluation: EvaluationSet,
    classifier: SoundClassifier,
    settings: DetectorSettings,
    offset: float,
) -> _Runs:
    return _Runs(
        {
            r.name: run_pipeline(r.audio_path, classifier, settings, offset)
            for r in evaluation.recordings
        }
    )


def _score(evaluation: EvaluationSet, runs: _Runs, labels: tuple[str, ...]) -> dict[str, Any]:
    return evaluate_detections(
        {r.name: r.events for r in evaluation.recordings},
        {name: run.events for name, run in runs.runs.items()},
        labels,
        {r.name: r.duration_s for r in evaluation.recordings},
    )


def _settings(args: argparse.Namespace, classifier: SoundClassifier) -> DetectorSettings:
    onsets: dict[str, float] = {}
    offsets: dict[str, float] = {}
    if not args.ignore_model_thresholds:
        onsets, offsets = read_model_thresholds(classifier.model_dir)
    onset = DEFAULT_ONSET if args.onset_threshold is None else args.onset_threshold
    offset = offset_for(onset) if args.offset_threshold is None else args.offset_threshold
    try:
        return DetectorSettings(
            classifier.labels,
            default_onset_threshold=onset,
            default_offset_threshold=offset,
            onset_thresholds=onsets,
            offset_thresholds=offsets,
            non_event_labels=classifier.manifest.non_event_labels,
        )
    except DetectorSettingsError as error:
        raise EvaluationError(str(error)) from error


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.3f}"


BLOCK = 26
HEADER = "F1    P     R     ER"


def _cells(block: dict[str, Any], f1_key: str = "f1") -> str:
    values = (block[f1_key], block["precision"], block["recall"], block["error_rate"])
    return " ".join(_fmt(v) for v in values)


def _thresholds(values: dict[str, float]) -> str:
    distinct = set(values.values())
    if len(distinct) == 1:
        return f"{distinct.pop()} for every class"
    return ", ".join(f"{label} {value}" for label, value in values.items())


def print_table(report: dict[str, Any], out: TextIO) -> None:
    """A readable table of ``report`` (``evaluate_events``'s result)."""
    m = report["metrics"]
    ev, seg = m["event_based"], m["segment_based"]
    agnostic = m["label_agnostic"]
    lines = [
        f"{m['recordings']} recordings, {report['duration_s']:.0f} s, {m['reference_events']} "
        f"reference events, {m['detected_events']} detected "
        f"({m['detected_other_label_events']} unknown)",
        f"model {report['model']}, calibration offset {report['calibration_offset_db']} dB, "
        f"onset threshold {_thresholds(report['onset_thresholds'])}",
        f"{'':<22}{'event-based (0.2 s, 20 %)':<{BLOCK}}segment-based (1 s)",
        f"{'':<22}{HEADER:<{BLOCK}}{HEADER}",
        f"{'overall (micro)':<22}{_cells(ev):<{BLOCK}}{_cells(seg)}",
        f"{'macro F1':<22}{_fmt(ev['macro_f1']):<{BLOCK}}{_fmt(seg['macro_f1'])}",
        f"{'label-agnostic':<22}{_cells(agnostic['event_based']):<{BLOCK}}"
        f"{_cells(agnostic['segment_based'])}",
        "per class: F1 (reference / detected events; segments)",
    ]
    for label, scores in ev["per_class"].items():
        s = seg["per_class"][label]
        if not (scores["reference"] or scores["detected"]):
            continue
        left = f"{_fmt(scores['f1'])} ({scores['reference']:>3} / {scores['detected']:>3})"
        right = f"{_fmt(s['f1'])} ({s['reference']:>3} / {s['detected']:>3})"
        lines.append(f"  {label:<20}{left:<{BLOCK}}{right}")
    gate = report["gate"]
    lines.append(
        f"level gate: saved inference on {100 * gate['saved_fraction']:.1f} % of "
        f"{gate['windows_total']} analysis windows"
    )
    print("\n".join(lines), file=out)


def evaluate_events(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The subcommand (see the module docstring), printing to ``out`` (default: stdout);
    raises one-line errors (``ERRORS``)."""
    out = out or sys.stdout
    if args.write_thresholds and (args.tune_on is None or args.model is None):
        raise EvaluationError(
            "--write-thresholds needs --tune-on VALIDATION_DIR and --model DIR (the built-in "
            "model is never rewritten: copy it first)"
        )
    evaluation = load_evaluation_set(args.dir)
    validation = load_evaluation_set(args.tune_on) if args.tune_on is not None else None
    classifier = SoundClassifier(args.model or default_model_dir())
    settings = _settings(args, classifier)
    offset_db = args.calibration_offset_db
    tuning: dict[str, Any] | None = None
    if validation is not None:
        runs = _run_all(validation, classifier, settings, offset_db)
        result = tune_thresholds(
            runs.runs,
            {r.name: r.events for r in validation.recordings},
            {r.name: r.duration_s for r in validation.recordings},
            settings,
        )
        onsets = {**settings.onset_thresholds, **result.onset_thresholds}
        offsets = {**settings.offset_thresholds, **result.offset_thresholds}
        settings = DetectorSettings(
            classifier.labels,
            default_onset_threshold=settings.default_onset_threshold,
            default_offset_threshold=settings.default_offset_threshold,
            onset_thresholds=onsets,
            offset_thresholds=offsets,
            non_event_labels=settings.non_event_labels,
        )
        tuning = {
            "validation_dir": str(validation.root),
            "onset_thresholds": result.onset_thresholds,
            "offset_thresholds": result.offset_thresholds,
            "validation_f1_by_threshold": {
                label: {str(t): f1 for t, f1 in curve.items()}
                for label, curve in result.f1_by_threshold.items()
            },
        }
        print(f"tuned on {validation.root}: onset thresholds {result.onset_thresholds}", file=out)
        if args.write_thresholds:
            path = write_model_thresholds(args.model, result)
            print(f"thresholds written to {path}", file=out)
    runs = _run_all(evaluation, classifier, settings, offset_db)
    report = {
        "dir": str(evaluation.root),
        "model": classifier.manifest.name,
        "model_dir": str(classifier.model_dir),
        "calibration_offset_db": offset_db,
        "duration_s": sum(r.duration_s for r in evaluation.recordings),
        "unlabelled_recordings": evaluation.unlabelled,
        "onset_thresholds": {
            label: settings.onset_threshold(label) for label in settings.event_labels
        },
        "offset_thresholds": {
            label: settings.offset_threshold(label) for label in settings.event_labels
        },
        "tuning": tuning,
        "gate": runs.gate(),
        "metrics": _score(evaluation, runs, settings.event_labels),
    }
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            raise EvaluationError(f"{args.json}: cannot write ({error})") from error
    print_table(report, out)
    return 0


ERRORS = (EvaluationError, DatasetError, ModelError, DetectorSettingsError)
"""What ``evaluate_events`` raises for bad input: print as one line, exit 1."""
