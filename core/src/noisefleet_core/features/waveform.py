"""Waveform input for models that take audio samples, not log-mel windows (e.g. YAMNet).

Steps of ``waveform_windows`` for a signal at ``WaveformParams.sample_rate_hz``:
1. cut it into windows of ``window_samples`` every ``window_hop_samples`` (no padding: a stream
   is cut exactly as a whole file);
2. normalise each window's gain on its own (``normalise_gain``): scale it so its RMS reads
   ``target_rms_dbfs``, never by more than ``max_gain_db`` and never so far that a sample passes
   ``peak_limit``.

Why step 2: pretrained models such as YAMNet take the log of mel energies plus a fixed floor, so
their output depends on the input level. A calibrated sensor at street levels records around
-50 dBFS, which such a model hears as near silence. Levels and the level gate are measured on
the calibrated signal before this; only the model's copy is normalised. The cap keeps a quiet
hiss from being blown up into a loud sound (the level gate stops inference on quiet frames
anyway; the cap matters for ``classify`` on whole files).

``WaveformParams`` is frozen and hashed like ``FeatureParams``: a model folder ships the hash and
the edge refuses a model whose hash differs from what this module computes.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
WAVEFORM_FRONTEND_VERSION = 1
RMS_FLOOR = 1e-12
"""RMS below this (digital silence) gets no gain at all: nothing to normalise."""


class WaveformParamsError(ValueError):
    """Waveform parameters are inconsistent; the message says which."""


@dataclass(frozen=True)
class WaveformParams:
    """How a waveform model's input windows are cut and normalised."""

    sample_rate_hz: int = 16000
    """The model's input rate (YAMNet: 16 kHz mono)."""
    window_samples: int = 15600
    """Samples per window (YAMNet: 0.975 s, exactly one of its 0.96 s patches)."""
    window_hop_samples: int = 7680
    """Hop between windows (YAMNet's own 0.48 s)."""
    target_rms_dbfs: float = -20.0
    """Each window is scaled to this RMS (dBFS, a full-scale sine reads -3 dB RMS)."""
    max_gain_db: float = 60.0
    """Never amplify a window by more than this."""
    peak_limit: float = 0.99
    """Never amplify a window so far that a sample's magnitude passes this."""

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0 or self.window_samples <= 0 or self.window_hop_samples <= 0:
            raise WaveformParamsError("sample rate, window and hop must be positive")
        for name in ("target_rms_dbfs", "max_gain_db", "peak_limit"):
            if not math.isfinite(getattr(self, name)):
                raise WaveformParamsError(f"{name} must be a finite number")
        if self.max_gain_db < 0 or not 0 < self.peak_limit <= 1:
            raise WaveformParamsError("need max_gain_db >= 0 and 0 < peak_limit <= 1")

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)

    @property
    def params_hash(self) -> str:
        """A stable id of these parameters and of this module's version."""
        canonical = json.dumps(
            {"waveform_frontend_version": WAVEFORM_FRONTEND_VERSION, **self.to_dict()},
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def normalise_gain(window: npt.ArrayLike, params: WaveformParams) -> FloatArray:
    """One window scaled to the target RMS (bounded by ``max_gain_db`` and ``peak_limit``)."""
    x = np.asarray(window, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    if rms < RMS_FLOOR:
        return x.copy()
    gain = 10.0 ** (params.target_rms_dbfs / 20.0) / rms
    gain = min(gain, 10.0 ** (params.max_gain_db / 20.0))
    peak = float(np.max(np.abs(x)))
    gain = min(gain, params.peak_limit / peak)
    return np.asarray(x * gain, dtype=np.float64)


def waveform_windows(x: npt.ArrayLike, params: WaveformParams) -> FloatArray:
    """(windows, window_samples) gain-normalised windows of a 1-D signal (no padding)."""
    samples = np.asarray(x, dtype=np.float64)
    if samples.ndim != 1:
        raise ValueError("waveform windows take one channel: pass a 1-D signal")
    if samples.size < params.window_samples:
        return np.empty((0, params.window_samples), dtype=np.float64)
    view = np.lib.stride_tricks.sliding_window_view(samples, params.window_samples)
    chosen = view[:: params.window_hop_samples]
    return np.stack([normalise_gain(w, params) for w in chosen])
