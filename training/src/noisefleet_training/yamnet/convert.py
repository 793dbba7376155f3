"""YAMNet (a SavedModel taking a 1-D 16 kHz waveform) to a TFLite model of builtin ops only.

Steps of ``convert``:
1. find the waveform function inside the SavedModel (``find_waveform_model``): TF-Hub's module
   sits inside a Keras wrapper (``layer-1`` -> ``layer`` -> ``_func``), so the trackable tree is
   searched for the object whose ``serving_default`` signature takes ``waveform``;
2. wrap it as a function of one fixed window, (1, window_samples) float32, which YAMNet turns
   into exactly one frame of scores and embeddings, and put a head on top (``Head``): the raw
   scores and embeddings, the zero-shot mapping onto our labels, or a dense softmax layer;
3. convert with builtin ops only, float32 or float16 weights (never dynamic-range int8: it
   drops YAMNet's top-1 agreement to 65 %);
4. ``parity`` runs TensorFlow and the TFLite interpreter on the same windows and returns the
   largest difference of every output: the command refuses a model that differs.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

PRECISIONS = ("float32", "float16")
SCORES = "scores"
EMBEDDINGS = "embeddings"
PROBABILITIES = "probabilities"


class ConversionError(RuntimeError):
    """The SavedModel cannot be converted or the TFLite model differs from TensorFlow."""


@dataclass(frozen=True)
class Head:
    """What the converted model outputs.

    ``kind``: ``base`` (scores and embeddings, two outputs), ``mapping`` (zero-shot: each class's
    max over its score indices, then ``ambient`` = 1 - the best, divided by the sum), ``dense``
    (softmax(embeddings @ weights + bias)) or ``blend`` (``blend`` x dense + (1 - ``blend``) x
    mapping: the trained head where it has data, the zero-shot mapping for classes it has none
    for; both sum to 1, so the blend does too)."""

    kind: str
    class_indices: tuple[tuple[int, ...], ...] = ()
    weights: npt.NDArray[np.float32] | None = field(default=None, compare=False)
    bias: npt.NDArray[np.float32] | None = field(default=None, compare=False)
    blend: float = 1.0
    """Weight of the dense part in a ``blend`` head (0..1)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.blend <= 1.0:
            raise ConversionError(f"a blend weight must be within 0..1, got {self.blend}")

    def _mapping(self, scores: tf.Tensor) -> tf.Tensor:
        columns = [
            tf.reduce_max(tf.gather(scores, list(idx), axis=1), axis=1, keepdims=True)
            for idx in self.class_indices
        ]
        classes = tf.concat(columns, axis=1)
        ambient = tf.clip_by_value(1.0 - tf.reduce_max(classes, axis=1, keepdims=True), 0.0, 1.0)
        full = tf.concat([classes, ambient], axis=1)
        total = tf.maximum(tf.reduce_sum(full, axis=1, keepdims=True), 1e-12)
        return full / total

    def _dense(self, embeddings: tf.Tensor) -> tf.Tensor:
        if self.weights is None or self.bias is None:
            raise ConversionError(f"a {self.kind} head needs weights and a bias")
        logits = tf.matmul(embeddings, tf.constant(self.weights)) + tf.constant(self.bias)
        return tf.nn.softmax(logits, axis=1)

    def apply(self, scores: tf.Tensor, embeddings: tf.Tensor) -> dict[str, tf.Tensor]:
        if self.kind == "base":
            return {SCORES: scores, EMBEDDINGS: embeddings}
        if self.kind == "mapping":
            return {PROBABILITIES: self._mapping(scores)}
        if self.kind == "dense":
            return {PROBABILITIES: self._dense(embeddings)}
        if self.kind == "blend":
            mixed = self.blend * self._dense(embeddings) + (1.0 - self.blend) * self._mapping(
                scores
            )
            return {PROBABILITIES: mixed}
        raise ConversionError(f"unknown head {self.kind!r}")


def _takes_waveform(obj: Any) -> bool:
    signatures = getattr(obj, "signatures", None)
    if not signatures or "serving_default" not in signatures:
        return False
    _, kwargs = signatures["serving_default"].structured_input_signature
    return set(kwargs) == {"waveform"}


def find_waveform_model(loaded: Any) -> Any:
    """The object in a loaded SavedModel whose signature takes ``waveform`` (step 1)."""
    queue: deque[Any] = deque([loaded])
    seen: set[int] = set()
    while queue:
        obj = queue.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if _takes_waveform(obj) and callable(obj):
            return obj
        children = getattr(obj, "_trackable_children", None)
        if callable(children):
            for name, child in children().items():
                if not name.startswith("_") or name == "_func":
                    queue.append(child)
    raise ConversionError("no function taking a 'waveform' found in the SavedModel")


def load_saved_model(path: Path) -> Any:
    try:
        return tf.saved_model.load(str(path))
    except (OSError, ValueError) as error:
        raise ConversionError(f"{path}: cannot load the SavedModel ({error})") from error


def window_function(model: Any, window_samples: int, head: Head) -> Any:
    """Step 2: a tf.function of one (1, window_samples) window, scores of its one frame."""

    def run(window: tf.Tensor) -> dict[str, tf.Tensor]:
        scores, embeddings, _ = model(tf.reshape(window, [window_samples]))
        return head.apply(scores[:1], embeddings[:1])

    return tf.function(run, input_signature=[tf.TensorSpec([1, window_samples], tf.float32)])


def convert(loaded: Any, window_samples: int, head: Head, precision: str = "float32") -> bytes:
    """Steps 1-3: the TFLite model bytes."""
    if precision not in PRECISIONS:
        raise ConversionError(f"precision must be one of {', '.join(PRECISIONS)}")
    run = window_function(find_waveform_model(loaded), window_samples, head)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [run.get_concrete_function()], loaded
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(converter.convert())


def tflite_outputs(model: bytes, windows: npt.ArrayLike) -> dict[str, npt.NDArray[np.float64]]:
    """Run a converted model on (n, window_samples) windows; outputs by the head's names (the
    model's ``serving_default`` signature keeps them)."""
    interpreter = Interpreter(model_content=model, num_threads=1)
    runner = interpreter.get_signature_runner()
    (input_name,) = interpreter.get_signature_list()["serving_default"]["inputs"]
    x = np.asarray(windows, dtype=np.float32)
    rows = [runner(**{input_name: row[np.newaxis]}) for row in x]
    return {k: np.stack([r[k][0] for r in rows]).astype(np.float64) for k in rows[0]}


def tensorflow_outputs(
    loaded: Any, windows: npt.ArrayLike, head: Head
) -> dict[str, npt.NDArray[np.float64]]:
    x = np.asarray(windows, dtype=np.float32)
    run = window_function(find_waveform_model(loaded), x.shape[1], head)
    rows = [run(tf.constant(row[np.newaxis])) for row in x]
    return {k: np.stack([r[k].numpy()[0] for r in rows]).astype(np.float64) for k in rows[0]}


def parity(loaded: Any, model: bytes, windows: npt.ArrayLike, head: Head) -> Mapping[str, float]:
    """Step 4: the largest difference of each output, TFLite vs TensorFlow, relative to the
    output's range (at least 1: scores and probabilities are compared in absolute terms,
    embeddings, which reach ~10, relative to their largest value)."""
    ours = tflite_outputs(model, windows)
    reference = tensorflow_outputs(loaded, windows, head)
    if set(ours) != set(reference):
        raise ConversionError(f"outputs differ: {sorted(ours)} vs {sorted(reference)}")
    return {
        k: float(np.max(np.abs(ours[k] - reference[k])) / max(1.0, np.max(np.abs(reference[k]))))
        for k in sorted(ours)
    }


def parity_signals(sample_rate_hz: int, window_samples: int) -> dict[str, npt.NDArray[np.float64]]:
    """Generated test windows: silence, a 1 kHz tone, white and brown noise, a two-tone
    siren-like wail with harmonics, a chirp and clicks (fixed seed)."""
    t = np.arange(window_samples) / sample_rate_hz
    rng = np.random.default_rng(13)
    wail_hz = 1050 + 450 * np.sin(2 * np.pi * 0.8 * t)
    phase = 2 * np.pi * np.cumsum(wail_hz) / sample_rate_hz
    clicks = np.zeros(window_samples)
    clicks[:: sample_rate_hz // 8] = 0.8
    brown = np.cumsum(rng.standard_normal(window_samples))
    signals = {
        "silence": np.zeros(window_samples),
        "tone_1khz": 0.3 * np.sin(2 * np.pi * 1000 * t),
        "white_noise": 0.1 * rng.standard_normal(window_samples),
        "brown_noise": 0.3 * brown / np.max(np.abs(brown)),
        "wail": sum(0.2 / k * np.sin(k * phase) for k in range(1, 8)),
        "chirp": 0.3 * np.sin(2 * np.pi * (100 + 3000 * t) * t),
        "clicks": clicks,
    }
    return {k: np.asarray(v, dtype=np.float64) for k, v in signals.items()}


def check_parity(
    loaded: Any, model: bytes, windows: Sequence[npt.NDArray[np.float64]], head: Head, tol: float
) -> Mapping[str, float]:
    """``parity``, raising ``ConversionError`` when an output differs by more than ``tol``."""
    diffs = parity(loaded, model, np.stack(windows), head)
    worst = max(diffs.values())
    if not worst <= tol:
        raise ConversionError(
            f"the TFLite model differs from TensorFlow by {worst:.2e} (> {tol:g}): {dict(diffs)}"
        )
    return diffs
