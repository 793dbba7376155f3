"""Export a trained Keras model as a model folder with a full-integer int8 TFLite model.

Steps of ``export_model_folder``:
1. rebuild the network with batch size 1 (no dynamic shape ops in the graph) and copy weights;
2. convert with the default optimisations, a representative dataset of training windows, int8
   built-in ops only and int8 input and output;
3. read the input and output quantisation back from the converted model;
4. write ``model.tflite`` and ``model.json`` (labels, feature parameters and their hash, SHA-256);
   the model card and report are written by ``report``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from noisefleet_core.features.logmel import FeatureParams
from noisefleet_core.models.manifest import (
    MANIFEST_FILE,
    MODEL_FILE,
    ModelManifest,
    Quantization,
    sha256_hex,
)
from noisefleet_training.features import WindowSet
from noisefleet_training.model import build_model

REPRESENTATIVE_WINDOWS = 1000


def _batch_one_copy(model: keras.Model, params: FeatureParams, n_classes: int) -> keras.Model:
    width = int(model.layers[1].filters)
    fixed = build_model(params, n_classes, width=width, batch_size=1)
    fixed.set_weights(model.get_weights())
    return fixed


def _stratified_sample(windows: WindowSet, count: int, seed: int) -> np.ndarray:
    """Up to ``count`` window indices, the same number from every class where possible."""
    rng = np.random.default_rng(seed)
    per_class = max(1, count // max(1, len(windows.labels)))
    chosen = []
    for label in range(len(windows.labels)):
        members = np.flatnonzero(windows.y == label)
        take = min(per_class, members.size)
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)


def convert_int8(
    model: keras.Model, params: FeatureParams, representative: WindowSet, seed: int = 0
) -> bytes:
    fixed = _batch_one_copy(model, params, len(representative.labels))
    chosen = _stratified_sample(representative, REPRESENTATIVE_WINDOWS, seed)

    def samples() -> Iterator[list[np.ndarray]]:
        for index in chosen:
            yield [representative.x[index][np.newaxis, ..., np.newaxis].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        # The converter warns that int8 inputs came without statistics: the representative
        # dataset provides them, and the resulting input scale is read back into model.json.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return bytes(converter.convert())


def convert_float(model: keras.Model, params: FeatureParams, n_classes: int) -> bytes:
    """A float32 TFLite model of the same network (for benchmarks and comparisons)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(_batch_one_copy(model, params, n_classes))
    return bytes(converter.convert())


def _quantization(detail: dict[str, Any]) -> Quantization:
    scale, zero_point = detail["quantization"]
    return Quantization(float(scale), int(zero_point))


def write_model_folder(
    folder: Path,
    tflite: bytes,
    params: FeatureParams,
    labels: tuple[str, ...],
    name: str,
    non_event_labels: tuple[str, ...] = (),
    unknown_threshold: float = 0.5,
) -> ModelManifest:
    interpreter = Interpreter(model_content=tflite)
    manifest = ModelManifest(
        name=name,
        labels=labels,
        feature_params=params,
        feature_params_hash=params.params_hash,
        model_sha256=sha256_hex(tflite),
        input_quantization=_quantization(interpreter.get_input_details()[0]),
        output_quantization=_quantization(interpreter.get_output_details()[0]),
        unknown_threshold=unknown_threshold,
        non_event_labels=non_event_labels,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(tflite)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return manifest
