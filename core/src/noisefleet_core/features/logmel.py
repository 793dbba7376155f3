"""The log-mel frontend: the one implementation of preprocessing for training and the edge.

Steps for a signal at ``FeatureParams.sample_rate_hz``:
1. frame it (no centring: frame k starts at sample k * hop, so a stream can be framed as it
   arrives) and apply a periodic Hann window;
2. power spectrum of each frame (``n_fft`` points);
3. mel filterbank (Slaney mel scale and area normalisation, as librosa's defaults);
4. log power in dB: 10*lg(max(mel, 1e-10)), no reference, no clipping of the range;
5. cut into analysis windows of ``window_frames`` frames every ``window_hop_frames`` frames and
   standardise each window on its own (zero mean, unit variance): no dataset statistics, so a
   stream is normalised exactly as the training clips were.

``FeatureParams`` is frozen and hashed (``params_hash``): a model folder ships the hash of the
parameters it was trained with, and the edge refuses a model whose hash differs from its own.
Bump ``FRONTEND_VERSION`` whenever this module's output changes for the same parameters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

FRONTEND_VERSION = 1
LOG_FLOOR = 1e-10
STANDARDISE_EPSILON = 1e-6


class FeatureParamsError(ValueError):
    """Feature parameters are inconsistent; the message says which."""


@dataclass(frozen=True)
class FeatureParams:
    """Log-mel parameters. Defaults and their reasons are in the model card."""

    sample_rate_hz: int = 16000
    """Classifier input rate: 48 kHz capture decimates to it by an integer factor of 3."""
    n_fft: int = 512
    """FFT and frame length: 32 ms at 16 kHz."""
    hop_length: int = 256
    """Frame hop: 16 ms, 50 % overlap."""
    n_mels: int = 64
    fmin_hz: float = 50.0
    fmax_hz: float = 8000.0
    window_frames: int = 62
    """Frames per analysis window: 62 frames span 0.992 s."""
    window_hop_frames: int = 31
    """Analysis windows overlap by half."""

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0 or self.n_fft <= 0 or self.hop_length <= 0:
            raise FeatureParamsError("sample rate, n_fft and hop length must be positive")
        if not 0 <= self.fmin_hz < self.fmax_hz <= self.sample_rate_hz / 2:
            raise FeatureParamsError("need 0 <= fmin < fmax <= sample rate / 2")
        if self.n_mels < 1 or self.window_frames < 1 or self.window_hop_frames < 1:
            raise FeatureParamsError("mel bands and window sizes must be at least 1")

    @property
    def window_samples(self) -> int:
        """Audio samples one analysis window needs."""
        return self.n_fft + (self.window_frames - 1) * self.hop_length

    @property
    def window_hop_samples(self) -> int:
        return self.window_hop_frames * self.hop_length

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)

    @property
    def params_hash(self) -> str:
        """A stable id of these parameters and of this frontend's version."""
        canonical = json.dumps(
            {"frontend_version": FRONTEND_VERSION, **self.to_dict()}, sort_keys=True
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _hz_to_mel(f: FloatArray) -> FloatArray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    mels = f / f_sp
    above = f >= min_log_hz
    mels[above] = min_log_mel + np.log(f[above] / min_log_hz) / logstep
    return mels


def _mel_to_hz(m: FloatArray) -> FloatArray:
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    freqs = f_sp * m
    above = m >= min_log_mel
    freqs[above] = min_log_hz * np.exp(logstep * (m[above] - min_log_mel))
    return freqs


def mel_filterbank(params: FeatureParams) -> FloatArray:
    """(n_mels, n_fft // 2 + 1) triangular filters with Slaney area normalisation."""
    fft_freqs = np.fft.rfftfreq(params.n_fft, 1.0 / params.sample_rate_hz)
    mel_edges = np.linspace(
        _hz_to_mel(np.array([params.fmin_hz]))[0],
        _hz_to_mel(np.array([params.fmax_hz]))[0],
        params.n_mels + 2,
    )
    hz_edges = _mel_to_hz(mel_edges)
    widths = np.diff(hz_edges)
    ramps = hz_edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]
    return np.asarray(weights, dtype=np.float64)


class LogMelFrontend:
    """Log-mel spectrogram and standardised analysis windows for one parameter set."""

    def __init__(self, params: FeatureParams) -> None:
        self.params = params
        n = np.arange(params.n_fft)
        self._window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / params.n_fft)  # periodic Hann
        self._filters = mel_filterbank(params)

    def log_mel(self, x: npt.ArrayLike) -> FloatArray:
        """(frames, n_mels) log-mel power in dB of a 1-D signal (no centring)."""
        p = self.params
        samples = np.asarray(x, dtype=np.float64)
        if samples.ndim != 1:
            raise ValueError("the frontend takes one channel: pass a 1-D signal")
        if samples.size < p.n_fft:
            return np.empty((0, p.n_mels), dtype=np.float64)
        frames = np.lib.stride_tricks.sliding_window_view(samples, p.n_fft)[:: p.hop_length]
        spectrum = np.fft.rfft(frames * self._window, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        mel = power @ self._filters.T
        return np.asarray(10.0 * np.log10(np.maximum(mel, LOG_FLOOR)), dtype=np.float64)

    def windows(self, x: npt.ArrayLike) -> FloatArray:
        """(windows, window_frames, n_mels) standardised analysis windows of a signal."""
        return standardised_windows(self.log_mel(x), self.params)


def standardised_windows(log_mel: FloatArray, params: FeatureParams) -> FloatArray:
    """Cut a log-mel spectrogram into analysis windows, each standardised on its own."""
    frames = log_mel.shape[0]
    if frames < params.window_frames:
        return np.empty((0, params.window_frames, params.n_mels), dtype=np.float64)
    view = np.lib.stride_tricks.sliding_window_view(log_mel, params.window_frames, axis=0)
    windows = np.transpose(view[:: params.window_hop_frames], (0, 2, 1))
    mean = windows.mean(axis=(1, 2), keepdims=True)
    std = windows.std(axis=(1, 2), keepdims=True)
    return np.asarray((windows - mean) / (std + STANDARDISE_EPSILON), dtype=np.float64)
