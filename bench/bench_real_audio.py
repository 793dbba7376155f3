"""Models side by side on held-out real audio: clips, open-set signals and real soundscapes.

Usage (after ``noisefleet-train real-clips`` and the model folders are built):
    python bench/bench_real_audio.py --model default=edge/src/noisefleet_edge/models/default \
        --model yamnet-zero-shot=DIR --model yamnet-logreg=DIR [--markdown OUT.md --json OUT.json]
        [--detector merge_gap_s=2.0 --detector default_onset_threshold=0.3 ...]

Every model goes through the edge's own classifier and sensor pipeline. For each it measures:
1. clip accuracy on the TEST split's event clips (soft voting; ``unknown`` counts as wrong),
   per-class F1 over the TEST clips with negatives (``ambient`` clips must come out ``unknown``),
   and how many TEST ``ambient`` clips and generated open-set signals (tones, a sweep, noise,
   silence, espeak-ng speech with voices and sentences the logreg head never heard) are
   rejected (``unknown``);
2. event-based and segment-based F1 of the edge pipeline (default detector settings unless
   ``--detector KEY=VALUE`` overrides some, for every model; dB SPL = dBFS + 90) on
   soundscapes built from TEST clips over TEST backgrounds (``realclips.soundscapes``);
3. ms per window (preprocessing + inference, one thread, median), the peak RSS of a process that
   loads the model and classifies 20 windows, and the model file's size.
The TEST split is never used to train or tune anything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from noisefleet_core.events import DetectorSettings
from noisefleet_core.models.manifest import MODEL_FILE, UNKNOWN_LABEL
from noisefleet_edge.classifier import SoundClassifier
from noisefleet_training.realclips.audio import TEST_SPEECH, clip_signal, open_set_signals
from noisefleet_training.realclips.build import load_real_clips
from noisefleet_training.realclips.soundscapes import write_real_soundscapes
from noisefleet_training.sed.files import load_evaluation_set
from noisefleet_training.sed.metrics import evaluate_detections
from noisefleet_training.sed.overrides import apply_overrides, parse_overrides
from noisefleet_training.sed.run import run_pipeline
from noisefleet_training.yamnet.fetch import default_cache_dir

FS = 16000
OPEN_SET_TEST_SEED = 12
CALIBRATION_OFFSET_DB = 90.0
RSS_SCRIPT = """
import resource, sys, numpy as np
from pathlib import Path
from noisefleet_edge.classifier import SoundClassifier
c = SoundClassifier(Path(sys.argv[1]))
x = np.random.default_rng(0).normal(0, 0.05, c.manifest.window_samples)
for _ in range(20):
    c.window_probabilities(c.windows(x))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _decide(classifier: SoundClassifier, x: np.ndarray) -> str:
    result = classifier.classify(x, FS)
    return UNKNOWN_LABEL if result is None else result.decision.label


def clip_figures(classifier: SoundClassifier, clips_dir: Path) -> dict[str, Any]:
    test = [c for c in load_real_clips(clips_dir) if c.split == "test"]
    truth, predicted, rows = [], [], []
    for clip in test:
        label = _decide(classifier, clip_signal(clip.file, FS))
        expected = UNKNOWN_LABEL if clip.label == "ambient" else clip.label
        truth.append(expected)
        predicted.append(label)
        rows.append({"clip": clip.source, "label": clip.label, "predicted": label})
    events = [(t, p) for t, p in zip(truth, predicted, strict=True) if t != UNKNOWN_LABEL]
    classes = sorted({t for t, _ in events})
    per_class = f1_score(truth, predicted, labels=classes, average=None, zero_division=0)
    open_set = open_set_signals(FS, OPEN_SET_TEST_SEED, TEST_SPEECH)
    open_rows = {name: _decide(classifier, x) for name, x in open_set.items()}
    negatives = [p for t, p in zip(truth, predicted, strict=True) if t == UNKNOWN_LABEL]
    return {
        "event_clips": len(events),
        "clip_accuracy": sum(t == p for t, p in events) / len(events),
        "per_class_f1": {c: float(f) for c, f in zip(classes, per_class, strict=True)},
        "macro_f1": float(np.mean(per_class)),
        "negative_clips": len(negatives),
        "negatives_rejected": sum(p == UNKNOWN_LABEL for p in negatives) / len(negatives),
        "open_set_signals": open_rows,
        "open_set_rejected": sum(v == UNKNOWN_LABEL for v in open_rows.values()) / len(open_rows),
        "clips": rows,
    }


def event_figures(
    classifier: SoundClassifier, soundscapes: Path, overrides: dict[str, float | int]
) -> dict[str, Any]:
    evaluation = load_evaluation_set(soundscapes)
    settings = apply_overrides(
        DetectorSettings(classifier.labels, non_event_labels=classifier.manifest.non_event_labels),
        overrides,
    )
    runs = {
        r.name: run_pipeline(r.audio_path, classifier, settings, CALIBRATION_OFFSET_DB)
        for r in evaluation.recordings
    }
    metrics = evaluate_detections(
        {r.name: r.events for r in evaluation.recordings},
        {name: run.events for name, run in runs.items()},
        settings.event_labels,
        {r.name: r.duration_s for r in evaluation.recordings},
    )
    return {
        "recordings": len(evaluation.recordings),
        "reference_events": metrics["reference_events"],
        "event_f1_micro": metrics["event_based"]["f1"],
        "event_f1_macro": metrics["event_based"]["macro_f1"],
        "segment_f1_micro": metrics["segment_based"]["f1"],
        "segment_f1_macro": metrics["segment_based"]["macro_f1"],
        "label_agnostic_event_f1": metrics["label_agnostic"]["event_based"]["f1"],
        "label_agnostic_segment_f1": metrics["label_agnostic"]["segment_based"]["f1"],
        "detector_overrides": overrides,
        "metrics": metrics,
    }


def cost_figures(folder: Path, classifier: SoundClassifier) -> dict[str, Any]:
    x = np.random.default_rng(0).normal(0, 0.05, classifier.manifest.window_samples)
    timings = []
    for _ in range(50):
        start = time.perf_counter()
        classifier.window_probabilities(classifier.windows(x))
        timings.append((time.perf_counter() - start) * 1000.0)
    rss = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(folder)], capture_output=True, text=True, check=True
    )
    return {
        "ms_per_window": statistics.median(timings),
        "window_hop_s": classifier.manifest.window_hop_samples / classifier.sample_rate_hz,
        "peak_rss_mb": int(rss.stdout.split()[-1]) / 1024,
        "model_bytes": (folder / MODEL_FILE).stat().st_size,
    }


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| model | clip accuracy (event clips) | macro F1 (clips) | negatives / open-set "
        "rejected | event F1 micro / macro | segment F1 micro / macro | ms per window "
        "(hop) | peak RSS | model size |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        c, e, k = r["clips"], r["events"], r["cost"]
        lines.append(
            f"| {name} | {100 * c['clip_accuracy']:.0f} % of {c['event_clips']} | "
            f"{_fmt(c['macro_f1'])} | {100 * c['negatives_rejected']:.0f} % of "
            f"{c['negative_clips']} / {100 * c['open_set_rejected']:.0f} % of "
            f"{len(c['open_set_signals'])} | {_fmt(e['event_f1_micro'])} / "
            f"{_fmt(e['event_f1_macro'])} | {_fmt(e['segment_f1_micro'])} / "
            f"{_fmt(e['segment_f1_macro'])} | {k['ms_per_window']:.2f} ms "
            f"({k['window_hop_s']:.2f} s) | {k['peak_rss_mb']:.0f} MB | "
            f"{k['model_bytes'] / 1e6:.2f} MB |"
        )
    classes = sorted({c for r in results.values() for c in r["clips"]["per_class_f1"]})
    lines += [
        "",
        "Per-class F1 on the TEST clips (clip decisions; `ambient` clips count as `unknown`):",
        "",
        "| model | " + " | ".join(classes) + " |",
        "|---|" + "---|" * len(classes),
    ]
    for name, r in results.items():
        f1 = r["clips"]["per_class_f1"]
        lines.append(f"| {name} | " + " | ".join(_fmt(f1.get(c, 0.0)) for c in classes) + " |")
    lines += ["", "Open-set signals (label given):", ""]
    for name, r in results.items():
        given = ", ".join(f"{k} -> {v}" for k, v in r["clips"]["open_set_signals"].items())
        lines.append(f"- {name}: {given}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--clips", type=Path, default=default_cache_dir() / "real-clips")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--soundscapes", type=int, default=6)
    parser.add_argument(
        "--detector",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detector setting for every model (sed.overrides.OVERRIDABLE)",
    )
    args = parser.parse_args()
    overrides = parse_overrides(args.detector)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        scapes = Path(tmp) / "soundscapes"
        write_real_soundscapes(load_real_clips(args.clips), scapes, count=args.soundscapes)
        for spec in args.model:
            name, _, folder = spec.partition("=")
            classifier = SoundClassifier(Path(folder))
            results[name] = {
                "model": classifier.manifest.name,
                "clips": clip_figures(classifier, args.clips),
                "events": event_figures(classifier, scapes, overrides),
                "cost": cost_figures(Path(folder), classifier),
            }
            print(f"{name}: done", file=sys.stderr)
    table = markdown(results)
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
