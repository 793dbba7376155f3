"""A training run from feature windows to a model folder with its report.

Steps of ``train_export_evaluate``:
1. fit the CNN on the training windows, early-stopped on the validation windows;
2. export the int8 model folder (``export``);
3. evaluate every named split with the float model and with the exported folder run through the
   edge's own classifier; train and score the MFCC baseline;
4. measure int8 latency and write ``report.json``, confusion PNGs and ``MODEL_CARD.md``;
5. fail unless int8 and float agree on at least 99 % of the test split's windows (the first
   split in ``evaluations``): the folder and report stay for inspection.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from noisefleet_core.features.logmel import FeatureParams
from noisefleet_edge.classifier import SoundClassifier
from noisefleet_training.evaluate import agreement, baseline_clip_accuracy, split_metrics
from noisefleet_training.export import convert_int8, write_model_folder
from noisefleet_training.features import WindowSet
from noisefleet_training.fit import FitSettings, fit_model, predict
from noisefleet_training.model import count_macc
from noisefleet_training.report import write_report

MIN_AGREEMENT = 0.99
LATENCY_WINDOWS = 50


class TrainingError(RuntimeError):
    """A training run cannot finish; the message says why."""


def int8_latency_ms(classifier: SoundClassifier, windows: WindowSet) -> float:
    sample = windows.x[: min(LATENCY_WINDOWS, len(windows))].astype(np.float64)
    timings = []
    for i in range(sample.shape[0]):
        start = time.perf_counter()
        classifier.window_probabilities(sample[i : i + 1])
        timings.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(timings)


def train_export_evaluate(
    out: Path,
    name: str,
    params: FeatureParams,
    train: WindowSet,
    validation: WindowSet,
    evaluations: dict[str, WindowSet],
    settings: FitSettings,
    data_description: str,
    limits: str,
    keep_float_model: Path | None = None,
) -> dict[str, Any]:
    if len(train) == 0 or len(validation) == 0:
        raise TrainingError("the training and validation sets need at least one window each")
    model = fit_model(train, validation, params, settings)
    if keep_float_model is not None:
        model.save(keep_float_model)
    tflite = convert_int8(model, params, train, settings.seed)
    write_model_folder(out, tflite, params, train.labels, name, train.non_event_labels)
    classifier = SoundClassifier(out)

    splits: dict[str, Any] = {}
    for split_name, windows in evaluations.items():
        float_probs = predict(model, windows)
        int8_probs = classifier.window_probabilities(windows.x.astype(np.float64))
        splits[split_name] = {
            "float": split_metrics(float_probs, windows).to_json(),
            "int8": split_metrics(int8_probs, windows).to_json(),
            "int8_float_agreement": round(agreement(int8_probs, float_probs), 4),
            "baseline_clip_accuracy": round(baseline_clip_accuracy(train, windows), 4),
        }
    report: dict[str, Any] = {
        "name": name,
        "labels": list(train.labels),
        "non_event_labels": list(train.non_event_labels),
        "feature_params": params.to_dict(),
        "feature_params_hash": params.params_hash,
        "data_description": data_description,
        "limits": limits,
        "training": ", ".join(f"{k}={v}" for k, v in asdict(settings).items() if k != "verbose")
        + f"; {len(train)} training windows, {len(validation)} validation windows",
        "model": {
            "architecture": "strided depthwise-separable CNN (SB-CNN family), softmax output",
            "parameters": int(model.count_params()),
            "macc": count_macc(model),
            "tflite_bytes": len(tflite),
            "int8_latency_ms": round(int8_latency_ms(classifier, train), 3),
            "latency_machine": f"{platform.machine()}, one thread, ai-edge-litert",
        },
        "splits": splits,
    }
    write_report(out, report)
    # The requirement holds on the test split (the first evaluation); other splits, such as
    # held-out generator settings, are reported as they are.
    test_name = next(iter(splits), None)
    if test_name is not None and splits[test_name]["int8_float_agreement"] < MIN_AGREEMENT:
        agreement_value = splits[test_name]["int8_float_agreement"]
        raise TrainingError(
            f"int8 and float models agree on only {100 * agreement_value:.1f} % of the "
            f"{test_name} windows (need {100 * MIN_AGREEMENT:.0f} %); see {out / 'report.json'}"
        )
    return report
