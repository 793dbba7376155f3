"""Benchmark: the sound classifier on one core.

Prints:
- per-window inference latency of the int8 model and of a float32 TFLite model of the same
  network (medians of many single-window runs with ai-edge-litert, one thread);
- the log-mel frontend's cost per second of audio (16 kHz features from 48 kHz capture,
  resampling included);
- the classifier's real-time factor (audio seconds per CPU second) on 10 minutes of audio:
  resampling, features, int8 inference and soft voting, with the default model.

The latency models are built from the default model's architecture; weights do not change the
cost. Run with ``make bench`` or ``.venv/bin/python bench/bench_classifier.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import statistics
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from noisefleet_core.features.logmel import FeatureParams, LogMelFrontend
from noisefleet_core.features.resample import resample
from noisefleet_edge.classifier import SoundClassifier, default_model_dir

CAPTURE_HZ = 48000
RUNS = 300


def _latency_ms(model: bytes, window: np.ndarray) -> float:
    interpreter = Interpreter(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    output = interpreter.get_output_details()[0]
    data = window.astype(detail["dtype"])
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        interpreter.set_tensor(detail["index"], data)
        interpreter.invoke()
        interpreter.get_tensor(output["index"])
        timings.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(timings)


def _tflite_models(params: FeatureParams, n_classes: int) -> tuple[bytes, bytes]:
    from noisefleet_training.export import convert_float, convert_int8  # noqa: PLC0415
    from noisefleet_training.features import WindowSet  # noqa: PLC0415
    from noisefleet_training.model import build_model  # noqa: PLC0415

    model = build_model(params, n_classes)
    rng = np.random.default_rng(0)
    windows = rng.standard_normal((64, params.window_frames, params.n_mels)).astype(np.float32)
    labels = tuple(f"c{i}" for i in range(n_classes))
    reference = WindowSet(windows, np.zeros(64, dtype=np.int64), np.arange(64), labels)
    return convert_int8(model, params, reference), convert_float(model, params, n_classes)


def main() -> None:
    classifier = SoundClassifier(default_model_dir())
    params = classifier.manifest.feature_params
    assert params is not None, "the default model takes log-mel input"
    print(f"classifier benchmark: model {classifier.manifest.name}, one core")

    int8_model, float_model = _tflite_models(params, len(classifier.labels))
    window = np.zeros((1, params.window_frames, params.n_mels, 1))
    int8_ms = _latency_ms(int8_model, window)
    float_ms = _latency_ms(float_model, window)
    print(
        f"inference per window: int8 {int8_ms:.3f} ms, float32 {float_ms:.3f} ms "
        f"(float/int8 = {float_ms / int8_ms:.2f}); model sizes {len(int8_model) / 1024:.0f} KB "
        f"int8, {len(float_model) / 1024:.0f} KB float"
    )

    rng = np.random.default_rng(1)
    minute = rng.standard_normal(60 * CAPTURE_HZ) * 0.05
    frontend = LogMelFrontend(params)
    timings = []
    for _ in range(5):
        start = time.process_time()
        frontend.windows(resample(minute, CAPTURE_HZ, params.sample_rate_hz))
        timings.append(time.process_time() - start)
    per_second_ms = statistics.median(timings) / 60 * 1000
    print(f"frontend (resample 48->16 kHz + log-mel + windows): {per_second_ms:.2f} ms per s")

    start = time.process_time()
    windows = 0
    for _ in range(10):
        result = classifier.classify(minute, CAPTURE_HZ)
        windows += 0 if result is None else len(result.window_starts_s)
    elapsed = time.process_time() - start
    print(
        f"classifier end to end on 10 min of 48 kHz audio: {600 / elapsed:.0f}x real time "
        f"({windows} windows, {elapsed / windows * 1000:.2f} ms CPU per window)"
    )


if __name__ == "__main__":
    main()
