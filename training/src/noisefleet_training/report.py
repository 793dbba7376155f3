"""The run report: ``report.json``, confusion matrices as PNG and the model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from noisefleet_core.models.manifest import CARD_FILE

REPORT_FILE = "report.json"

FEATURE_RATIONALE = """\
- **16 kHz**: the talk recommends 16-22.05 kHz; urban sound classes carry their identity below
  8 kHz, and 48 kHz capture (needed for class 1 levels) decimates to 16 kHz by an integer factor.
- **64 mel bands, 50 Hz - 8 kHz**: the talk's ~64 bands (40-128 in the literature; SB-CNN 40-128,
  the thesis 60). 50 Hz keeps engine and air-conditioner fundamentals.
- **512-point frames (32 ms) every 256 samples (16 ms)**: Hann window, 50 % overlap, the talk's
  ~25 ms hop order of magnitude.
- **62-frame windows (0.99 s) every 31 frames (0.5 s)**: short windows mean small models and fine
  event timing (the thesis used 0.72 s, SB-CNN 1.4-3 s); clip labels come from soft voting.
- **Per-window standardisation**: streaming cannot know dataset statistics; it also makes the
  classifier level-independent, which is why the edge gates quiet audio by level first.
"""


def confusion_png(path: Path, matrix: list[list[int]], labels: tuple[str, ...], title: str) -> None:
    values = np.asarray(matrix, dtype=np.float64)
    rows = values.sum(axis=1, keepdims=True)
    shares = np.divide(values, rows, out=np.zeros_like(values), where=rows > 0)
    size = 2.5 + 0.55 * len(labels)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if values[i, j]:
                colour = "white" if shares[i, j] > 0.5 else "black"
                ax.text(
                    j, i, str(int(values[i, j])), ha="center", va="center", color=colour, fontsize=7
                )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f} %"


def _detection_lines(figures: dict[str, Any] | None) -> list[str]:
    """The model card's sound event detection table (``sed.figures``), if measured."""
    if not figures:
        return []
    lines = [
        "",
        "## Sound event detection (edge pipeline, default detector settings)",
        "",
        f"Synthetic soundscapes at SNR 0-20 dB, calibration offset "
        f"{figures['calibration_offset_db']} dB; event-based F1 with a 0.2 s onset collar and an "
        "offset collar of max(0.2 s, 20 %), segment-based F1 and error rate over 1 s segments.",
        "",
        "| soundscapes | events | event F1 (macro) | segment F1 (macro) | segment ER "
        "| label-agnostic event / segment F1 | gate saved |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        if not isinstance(f, dict):
            continue
        lines.append(
            f"| {name}: {f['soundscapes']} x {f['seconds'] / f['soundscapes']:g} s "
            f"{f['preset']} (seed {f['seed']}) | {f['reference_events']} | {f['event_f1']} "
            f"({f['event_macro_f1']}) | {f['segment_f1']} ({f['segment_macro_f1']}) | "
            f"{f['segment_error_rate']} | {f['label_agnostic_event_f1']} / "
            f"{f['label_agnostic_segment_f1']} | {_pct(f['gate_saved_fraction'])} |"
        )
    return lines


def model_card(report: dict[str, Any]) -> str:
    model = report["model"]
    lines = [
        f"# Model card: {report['name']}",
        "",
        f"Labels ({len(report['labels'])}): {', '.join(report['labels'])}.",
        *(
            [
                "",
                f"Non-event labels: {', '.join(report['non_event_labels'])} (background only: "
                "the detector never reports them, a clip decision votes among the other labels).",
            ]
            if report.get("non_event_labels")
            else []
        ),
        "",
        "## Data",
        report["data_description"],
        "",
        "## Features",
        f"Parameters (hash `{report['feature_params_hash']}`): "
        + ", ".join(f"{k}={v}" for k, v in report["feature_params"].items())
        + ".",
        "",
        FEATURE_RATIONALE,
        "## Model",
        f"- {model['architecture']}",
        f"- {model['parameters']} parameters, {model['macc']:,} MACC per window,",
        f"  int8 TFLite {model['tflite_bytes'] / 1024:.0f} KB",
        f"- int8 latency: median {model['int8_latency_ms']:.2f} ms per window "
        f"({model['latency_machine']})",
        f"- training: {report['training']}",
        "",
        "## Results (clip accuracy by soft voting; window accuracy in brackets)",
        "",
        "| split | clips | float | int8 | int8/float agreement (windows) | MFCC+LogReg baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name, split in report["splits"].items():
        lines.append(
            f"| {name} | {split['int8']['clips']} | {_pct(split['float']['clip_accuracy'])} "
            f"({_pct(split['float']['window_accuracy'])}) | {_pct(split['int8']['clip_accuracy'])} "
            f"({_pct(split['int8']['window_accuracy'])}) | {_pct(split['int8_float_agreement'])} | "
            f"{_pct(split.get('baseline_clip_accuracy'))} |"
        )
    if "cross_validation" in report:
        cv = report["cross_validation"]
        lines += [
            "",
            f"Cross-validation over folds {cv['folds']}: int8 clip accuracy "
            f"{_pct(cv['mean'])} ± {100 * cv['std']:.1f}.",
        ]
    lines += _detection_lines(report.get("sound_event_detection"))
    lines += [
        "",
        "Per-class precision/recall/F1 and the confusion matrices are in `report.json` and the",
        "`confusion_*.png` files beside this card.",
        "",
        "## Limits",
        report["limits"],
        "",
    ]
    return "\n".join(lines)


def write_report(folder: Path, report: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    labels = tuple(report["labels"])
    for name, split in report["splits"].items():
        confusion_png(
            folder / f"confusion_{name}.png",
            split["int8"]["confusion_matrix"],
            labels,
            f"{report['name']}: {name} (int8, clips)",
        )
    (folder / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    (folder / CARD_FILE).write_text(model_card(report))
