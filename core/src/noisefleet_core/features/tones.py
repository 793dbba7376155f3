"""Pure tones: calibration tones and test signals are never a sound class.

A calibrator's 1 kHz tone, a test generator's sine or a steady whistle of a machine is one
stationary sinusoid. A classifier trained on urban sounds may still score it as a class (a siren
is tonal too), but a siren sweeps its frequency and a horn has harmonics. ``is_pure_tone``:
1. frames the window (``n_fft`` points, Hann, half overlap) and finds each frame's spectral peak;
2. the window is a pure tone when, in every frame, at least ``min_share`` of the power lies
   within ``half_width_bins`` of the peak, and the peak stays within ``max_drift_bins`` over
   the whole window.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

N_FFT = 1024
HALF_WIDTH_BINS = 3
MIN_SHARE = 0.9
MAX_DRIFT_BINS = 2


def is_pure_tone(
    window: npt.ArrayLike,
    n_fft: int = N_FFT,
    half_width_bins: int = HALF_WIDTH_BINS,
    min_share: float = MIN_SHARE,
    max_drift_bins: int = MAX_DRIFT_BINS,
) -> bool:
    """Whether one analysis window holds a single stationary sinusoid (see the module doc)."""
    x = np.asarray(window, dtype=np.float64)
    if x.size < n_fft or not np.any(x):
        return False
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[:: n_fft // 2]
    hann = _hann(n_fft)
    # Every frame must pass, so a first frame that fails decides at 1/30 of the cost: the
    # common case (noise, speech, traffic) is decided there.
    first = np.abs(np.fft.rfft(frames[:1] * hann, axis=1)) ** 2
    if not _shares_pass(first, half_width_bins, min_share):
        return False
    power = np.abs(np.fft.rfft(frames * hann, axis=1)) ** 2
    peaks = np.argmax(power, axis=1)
    if int(peaks.max() - peaks.min()) > max_drift_bins:
        return False
    return _shares_pass(power, half_width_bins, min_share)


@functools.cache
def _hann(n_fft: int) -> FloatArray:
    window: FloatArray = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    window.flags.writeable = False
    return window


def _shares_pass(power: FloatArray, half_width_bins: int, min_share: float) -> bool:
    """Whether, in every frame (row) of ``power``, ``min_share`` of the power lies within
    ``half_width_bins`` of the frame's peak."""
    peaks = np.argmax(power, axis=1)
    total = power.sum(axis=1)
    bins = np.arange(power.shape[1])
    near = np.abs(bins[np.newaxis, :] - peaks[:, np.newaxis]) <= half_width_bins
    shares = (power * near).sum(axis=1) / np.maximum(total, 1e-30)
    return bool(np.all(shares >= min_share))
