"""Running a TFLite sound classifier on the edge.

Steps of ``SoundClassifier.classify``:
1. resample the signal to the model's input rate (``noisefleet_core.features.resample``);
2. cut it into the model's inputs (``SoundClassifier.windows``) with the same code training
   used (refused at load time when the input parameters' hash differs): standardised log-mel
   windows for ``log_mel`` models, gain-normalised waveform windows for ``waveform`` models
   (e.g. YAMNet, whose output depends on the input level);
3. quantise each input when the model takes int8, run the interpreter, dequantise int8 outputs;
   a window that holds a pure tone (``noisefleet_core.features.tones``: a calibration tone, a
   test signal) scores as the model's non-event label, or no class, whatever the model says;
4. aggregate the windows (soft voting by default) and decide, ``unknown`` below the threshold.

The interpreter comes from ai-edge-litert, or from tflite-runtime where a device already has it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from noisefleet_core.features.logmel import LogMelFrontend, standardised_windows
from noisefleet_core.features.resample import resample
from noisefleet_core.features.tones import is_pure_tone
from noisefleet_core.features.waveform import waveform_windows
from noisefleet_core.models.aggregate import ClipDecision, decide
from noisefleet_core.models.manifest import (
    MANIFEST_FILE,
    MODEL_FILE,
    ModelError,
    ModelManifest,
    check_compatible,
    parse_manifest,
)
from noisefleet_edge.errors import NoisefleetEdgeError

FloatArray = npt.NDArray[np.float64]
DEFAULT_MODEL_PACKAGE = "noisefleet_edge.models"
DEFAULT_MODEL_NAME = "default"


def default_model_dir() -> Path:
    """The model shipped with the edge package, used when none is configured."""
    return Path(str(resources.files(DEFAULT_MODEL_PACKAGE).joinpath(DEFAULT_MODEL_NAME)))


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # noqa: PLC0415
        except ImportError as error:
            raise ModelError(
                "no TFLite interpreter installed: pip install ai-edge-litert"
            ) from error
    return Interpreter


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Hide the runtime's C++ start-up chatter ("INFO: Created TensorFlow Lite XNNPACK
    delegate") so the command's stderr stays one line per problem; failures still raise."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to hide
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def read_manifest(model_dir: Path) -> ModelManifest:
    """The manifest of a model folder, checked, without loading the model."""
    manifest_path = model_dir / MANIFEST_FILE
    model_path = model_dir / MODEL_FILE
    if not manifest_path.is_file() or not model_path.is_file():
        raise ModelError(
            f"{model_dir}: not a model folder (needs {MANIFEST_FILE} and {MODEL_FILE})"
        )
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{manifest_path}: unreadable ({error})") from error
    return parse_manifest(data)


@dataclass(frozen=True)
class Classification:
    decision: ClipDecision
    window_probabilities: FloatArray
    window_starts_s: tuple[float, ...]


class ClassifierError(NoisefleetEdgeError):
    """A loaded model failed while classifying (the interpreter refused to run): a model
    failure, which the agent answers by rolling the model back."""


class SoundClassifier:
    """A loaded model folder, ready to classify signals (thread-safe: one call at a time)."""

    def __init__(self, model_dir: Path, num_threads: int = 1) -> None:
        self.model_dir = model_dir
        model_path = model_dir / MODEL_FILE
        self.manifest: ModelManifest = read_manifest(model_dir)
        model_bytes = model_path.read_bytes()
        check_compatible(self.manifest, model_bytes)
        try:
            with _native_stderr_silenced():
                self._interpreter = _interpreter_class()(
                    model_content=model_bytes, num_threads=num_threads
                )
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"{model_path}: the interpreter cannot load it ({error})") from error
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        params = self.manifest.feature_params
        self.frontend = LogMelFrontend(params) if params is not None else None
        """The log-mel frontend of a ``log_mel`` model; None for a ``waveform`` model."""
        expected: tuple[int, ...] = (
            (1, params.window_frames, params.n_mels, 1)
            if params is not None
            else (1, self.manifest.window_samples)
        )
        if tuple(self._input["shape"]) != expected:
            raise ModelError(
                f"{model_path}: input shape {tuple(self._input['shape'])} does not match the "
                f"{self.manifest.input_kind} parameters {expected}"
            )
        if int(self._output["shape"][-1]) != len(self.manifest.labels):
            raise ModelError(f"{model_path}: output size does not match the label list")
        self._input_int8 = self._input["dtype"] == np.int8
        self._output_int8 = self._output["dtype"] == np.int8
        if (self._input_int8 and self.manifest.input_quantization is None) or (
            self._output_int8 and self.manifest.output_quantization is None
        ):
            raise ModelError(f"{model_path}: int8 tensors but model.json lists no quantisation")
        self._lock = threading.Lock()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.manifest.labels

    @property
    def sample_rate_hz(self) -> int:
        """The rate ``windows`` expects its signal at."""
        return self.manifest.sample_rate_hz

    def windows(self, signal: npt.ArrayLike) -> FloatArray:
        """The model's inputs for a signal at ``sample_rate_hz``: (windows, frames, mels)
        standardised log-mel windows, or (windows, samples) gain-normalised waveform windows."""
        if self.frontend is not None:
            return self.frontend.windows(signal)
        assert self.manifest.waveform_params is not None
        return waveform_windows(signal, self.manifest.waveform_params)

    def audio_windows(self, signal: npt.ArrayLike) -> FloatArray:
        """(windows, window_samples) views of the audio each model input covers."""
        x = np.asarray(signal, dtype=np.float64)
        size, hop = self.manifest.window_samples, self.manifest.window_hop_samples
        if x.size < size:
            return np.empty((0, size))
        return np.lib.stride_tricks.sliding_window_view(x, size)[::hop]

    def tone_guarded(self, probabilities: FloatArray, audio_windows: FloatArray) -> FloatArray:
        """``probabilities`` with every pure-tone window's row replaced by the non-event label
        (all on the first one), or zeros when the model has none: a tone is never a class."""
        out = probabilities.copy()
        replacement = np.zeros(len(self.labels))
        if self.manifest.non_event_labels:
            replacement[self.labels.index(self.manifest.non_event_labels[0])] = 1.0
        for i, window in enumerate(audio_windows):
            if is_pure_tone(window):
                out[i] = replacement
        return out

    def segment_probabilities(
        self, segment: FloatArray, log_mel: FloatArray | None = None
    ) -> FloatArray:
        """Scores of one window of audio at ``sample_rate_hz`` (the streaming pipeline's call).

        ``log_mel``: the window's (window_frames, n_mels) log-mel columns when the caller has
        them already (``LogMelFrontend.log_mel`` of ``segment``; half-overlapping windows share
        half their frames, so a stream computes each frame once)."""
        if log_mel is not None and self.frontend is not None:
            windows = standardised_windows(log_mel, self.frontend.params)
        else:
            windows = self.windows(segment)
        probs = self.window_probabilities(windows)
        guarded: FloatArray = self.tone_guarded(probs, segment[np.newaxis, :])[0]
        return guarded

    def window_probabilities(self, windows: FloatArray) -> FloatArray:
        """(windows, classes) probabilities for model inputs (``windows``)."""
        out = np.empty((windows.shape[0], len(self.labels)), dtype=np.float64)
        inputs: npt.NDArray[Any]
        if self._input_int8:
            in_q = self.manifest.input_quantization
            assert in_q is not None  # checked at load time
            scaled = np.clip(np.round(windows / in_q.scale + in_q.zero_point), -128, 127)
            inputs = scaled.astype(np.int8)
        else:
            inputs = windows.astype(np.float32)
        if self.frontend is not None:
            inputs = inputs[..., np.newaxis]
        out_q = self.manifest.output_quantization
        with self._lock:
            try:
                for i in range(windows.shape[0]):
                    self._interpreter.set_tensor(self._input["index"], inputs[i : i + 1])
                    self._interpreter.invoke()
                    raw = self._interpreter.get_tensor(self._output["index"])[0].astype(np.float64)
                    out[i] = (raw - out_q.zero_point) * out_q.scale if out_q is not None else raw
            except (ValueError, RuntimeError) as error:  # the interpreter's own errors
                raise ClassifierError(
                    f"model {self.manifest.name}: the interpreter failed ({error})"
                ) from error
        return out

    def classify(
        self, x: npt.ArrayLike, sample_rate_hz: int, aggregation: str | None = None
    ) -> Classification | None:
        """Classify a signal; None when it is shorter than one analysis window."""
        manifest = self.manifest
        signal = resample(x, sample_rate_hz, manifest.sample_rate_hz)
        windows = self.windows(signal)
        if windows.shape[0] == 0:
            return None
        probs = self.tone_guarded(self.window_probabilities(windows), self.audio_windows(signal))
        decision = decide(
            probs,
            self.labels,
            aggregation or self.manifest.aggregation,
            self.manifest.unknown_threshold,
            self.manifest.non_event_labels,
        )
        hop_s = manifest.window_hop_samples / manifest.sample_rate_hz
        starts = tuple(i * hop_s for i in range(windows.shape[0]))
        return Classification(decision, probs, starts)
