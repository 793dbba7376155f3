"""The model folder: what training writes and the edge checks before it runs a model.

A model is a folder:
- ``model.tflite``: a TFLite classifier of builtin ops. Two kinds of input (``input_kind``):
  ``log_mel`` (the default, and the only kind before waveform models): input (1, frames, mels, 1)
  int8 standardised log-mel windows (``feature_params``), output (1, classes) int8 probabilities
  (softmax inside the model); ``waveform``: input (1, samples) float32 gain-normalised audio
  (``waveform_params``, e.g. YAMNet with a head folded in), output (1, classes) float32 or int8.
  Quantisation is listed for int8 tensors only;
- ``model.json``: this manifest (labels, feature parameters and their hash, quantisation,
  the model file's SHA-256, the open-set threshold, how windows are aggregated and which labels
  are not events: ``non_event_labels``, e.g. ``ambient`` for windows of background only);
- ``MODEL_CARD.md`` and ``report.json``: data, metrics, size, MACC and latency.

``check_manifest`` is pure: the caller reads the files; it raises ``ModelError`` with a message
that tells the operator what is wrong and what to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from noisefleet_core.features.logmel import FeatureParams, FeatureParamsError
from noisefleet_core.features.waveform import WaveformParams, WaveformParamsError

MANIFEST_FILE = "model.json"
MODEL_FILE = "model.tflite"
CARD_FILE = "MODEL_CARD.md"
MANIFEST_VERSION = 1
AGGREGATIONS = ("mean", "max", "majority")
UNKNOWN_LABEL = "unknown"
LOG_MEL_INPUT = "log_mel"
WAVEFORM_INPUT = "waveform"
INPUT_KINDS = (LOG_MEL_INPUT, WAVEFORM_INPUT)


class ModelError(ValueError):
    """A model folder cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Quantization:
    scale: float
    zero_point: int


@dataclass(frozen=True)
class ModelManifest:
    name: str
    labels: tuple[str, ...]
    feature_params: FeatureParams | None
    """Log-mel parameters of a ``log_mel`` model; None for a ``waveform`` model."""
    feature_params_hash: str
    """The hash of the input parameters (``feature_params`` or ``waveform_params``)."""
    model_sha256: str
    input_quantization: Quantization | None
    """Scale and zero point of an int8 input; None for a float32 input."""
    output_quantization: Quantization | None
    unknown_threshold: float = 0.5
    """Below this aggregated probability a clip is ``unknown`` (open set)."""
    aggregation: str = "mean"
    onset_thresholds: tuple[tuple[str, float], ...] = ()
    """Per-class event onset thresholds tuned for this model (``"detector"`` in model.json)."""
    offset_thresholds: tuple[tuple[str, float], ...] = ()
    non_event_labels: tuple[str, ...] = ()
    """Labels the model outputs that are not events (e.g. ``ambient``: background only): the
    detector never reports them and a clip decision never names them."""
    waveform_params: WaveformParams | None = None
    """Window and gain parameters of a ``waveform`` model; None for a ``log_mel`` model."""

    def __post_init__(self) -> None:
        if (self.feature_params is None) == (self.waveform_params is None):
            raise ModelError("a model takes either log-mel features or a waveform: give one")

    @property
    def input_kind(self) -> str:
        return WAVEFORM_INPUT if self.waveform_params is not None else LOG_MEL_INPUT

    @property
    def input_params(self) -> FeatureParams | WaveformParams:
        params = self.feature_params or self.waveform_params
        assert params is not None  # __post_init__
        return params

    @property
    def sample_rate_hz(self) -> int:
        """The rate the model's input is computed at."""
        return self.input_params.sample_rate_hz

    @property
    def window_samples(self) -> int:
        """Samples (at ``sample_rate_hz``) one model input covers."""
        return self.input_params.window_samples

    @property
    def window_hop_samples(self) -> int:
        return self.input_params.window_hop_samples

    def to_json(self) -> dict[str, Any]:
        inputs: dict[str, Any] = (
            {"feature_params": self.feature_params.to_dict()}
            if self.feature_params is not None
            else {
                "input_kind": WAVEFORM_INPUT,
                "waveform_params": self.input_params.to_dict(),
            }
        )
        quantization = {
            key: {"scale": q.scale, "zero_point": q.zero_point}
            for key, q in (
                ("input_quantization", self.input_quantization),
                ("output_quantization", self.output_quantization),
            )
            if q is not None
        }
        return {
            "manifest_version": MANIFEST_VERSION,
            "name": self.name,
            "labels": list(self.labels),
            **inputs,
            "feature_params_hash": self.feature_params_hash,
            "model_file": MODEL_FILE,
            "model_sha256": self.model_sha256,
            **quantization,
            "unknown_threshold": self.unknown_threshold,
            "aggregation": self.aggregation,
            **({"non_event_labels": list(self.non_event_labels)} if self.non_event_labels else {}),
            **(
                {
                    "detector": {
                        "onset_thresholds": dict(self.onset_thresholds),
                        "offset_thresholds": dict(self.offset_thresholds),
                    }
                }
                if self.onset_thresholds or self.offset_thresholds
                else {}
            ),
        }


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _quantization(data: Any, name: str) -> Quantization | None:
    if data is None:
        return None
    try:
        return Quantization(float(data["scale"]), int(data["zero_point"]))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"model.json: {name} needs a numeric scale and zero_point") from error


def parse_manifest(data: Any) -> ModelManifest:
    """Validate the JSON of ``model.json`` (already parsed) into a manifest."""
    if not isinstance(data, dict):
        raise ModelError("model.json must hold a JSON object")
    if data.get("manifest_version") != MANIFEST_VERSION:
        raise ModelError(
            f"model.json has manifest_version {data.get('manifest_version')!r}; this edge reads "
            f"version {MANIFEST_VERSION}: update the edge or re-export the model"
        )
    labels = data.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ModelError("model.json: labels must be a non-empty list of strings")
    if len(set(labels)) != len(labels) or UNKNOWN_LABEL in labels:
        raise ModelError(f"model.json: labels must be unique and must not be {UNKNOWN_LABEL!r}")
    kind = data.get("input_kind", LOG_MEL_INPUT)
    if kind not in INPUT_KINDS:
        raise ModelError(
            f"model.json: input_kind {kind!r} is not one of {', '.join(INPUT_KINDS)}: update the "
            "edge or re-export the model"
        )
    params: FeatureParams | None = None
    waveform: WaveformParams | None = None
    try:
        if kind == LOG_MEL_INPUT:
            params = FeatureParams(**data["feature_params"])
        else:
            waveform = WaveformParams(**data["waveform_params"])
    except (KeyError, TypeError, FeatureParamsError, WaveformParamsError) as error:
        section = "feature_params" if kind == LOG_MEL_INPUT else "waveform_params"
        raise ModelError(f"model.json: invalid {section} ({error})") from error
    input_q = _quantization(data.get("input_quantization"), "input_quantization")
    output_q = _quantization(data.get("output_quantization"), "output_quantization")
    if kind == LOG_MEL_INPUT and (input_q is None or output_q is None):
        raise ModelError(
            "model.json: a log_mel model needs input_quantization and output_quantization"
        )
    aggregation = data.get("aggregation", "mean")
    if aggregation not in AGGREGATIONS:
        raise ModelError(f"model.json: aggregation must be one of {', '.join(AGGREGATIONS)}")
    threshold = data.get("unknown_threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise ModelError("model.json: unknown_threshold must be a number within 0..1")
    for key in ("name", "feature_params_hash", "model_sha256"):
        if not isinstance(data.get(key), str):
            raise ModelError(f"model.json: {key} must be a string")
    onsets, offsets = _detector_thresholds(data.get("detector"), labels)
    non_event = data.get("non_event_labels", [])
    if (
        not isinstance(non_event, list)
        or not all(isinstance(x, str) and x in labels for x in non_event)
        or len(set(non_event)) != len(non_event)
        or len(non_event) >= len(labels)
    ):
        raise ModelError(
            "model.json: non_event_labels must list distinct labels of the model, not all of them"
        )
    return ModelManifest(
        name=data["name"],
        labels=tuple(labels),
        feature_params=params,
        feature_params_hash=data["feature_params_hash"],
        model_sha256=data["model_sha256"],
        input_quantization=input_q,
        output_quantization=output_q,
        unknown_threshold=float(threshold),
        aggregation=aggregation,
        onset_thresholds=onsets,
        offset_thresholds=offsets,
        non_event_labels=tuple(non_event),
        waveform_params=waveform,
    )


def _detector_thresholds(
    data: Any, labels: list[str]
) -> tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]]:
    """Tuned per-class thresholds from model.json's optional ``"detector"`` object."""
    if data is None:
        return (), ()
    if not isinstance(data, dict):
        raise ModelError("model.json: detector must be an object")
    result = []
    for key in ("onset_thresholds", "offset_thresholds"):
        values = data.get(key, {})
        if not isinstance(values, dict) or not all(
            label in labels and isinstance(v, int | float) and 0.0 <= v <= 1.0
            for label, v in values.items()
        ):
            raise ModelError(
                f"model.json: detector.{key} must map the model's labels to numbers within 0..1"
            )
        result.append(tuple(sorted((label, float(v)) for label, v in values.items())))
    return result[0], result[1]


def check_compatible(manifest: ModelManifest, model_bytes: bytes) -> None:
    """Refuse a model whose features or file differ from what this frontend computes."""
    ours = manifest.input_params.params_hash
    trained_on = "features" if manifest.feature_params else "waveform input"
    if manifest.feature_params_hash != ours:
        raise ModelError(
            f"the model was trained on {trained_on} with hash "
            f"{manifest.feature_params_hash}, but this edge's frontend computes {ours} for the "
            "same parameters: retrain the model with this version of noisefleet, or install the "
            "noisefleet version it was made with"
        )
    actual = sha256_hex(model_bytes)
    if actual != manifest.model_sha256:
        raise ModelError(
            f"model.tflite does not match model.json (SHA-256 {actual[:12]}…, expected "
            f"{manifest.model_sha256[:12]}…): the folder is corrupt or was mixed up; copy it again"
        )
