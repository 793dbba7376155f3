"""Waveform windows and per-window gain normalisation (the input of YAMNet-based models)."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_core.features.waveform import (
    WaveformParams,
    WaveformParamsError,
    normalise_gain,
    waveform_windows,
)


def _rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2))))


def test_quiet_calibrated_audio_is_brought_to_the_target_rms() -> None:
    params = WaveformParams()
    rng = np.random.default_rng(0)
    x = 10 ** (-50 / 20) * rng.standard_normal(params.window_samples)  # street level, -50 dBFS
    y = normalise_gain(x, params)
    assert _rms_dbfs(y) == pytest.approx(params.target_rms_dbfs, abs=1e-9)
    assert _rms_dbfs(normalise_gain(100 * x, params)) == pytest.approx(_rms_dbfs(y))


def test_gain_is_capped_and_peaks_are_limited() -> None:
    params = WaveformParams(max_gain_db=20.0)
    hiss = np.full(1000, 1e-6)
    assert np.max(np.abs(normalise_gain(hiss, params))) == pytest.approx(1e-5)
    click = np.zeros(1000)
    click[10] = 0.01  # crest factor 30 dB: the peak limit, not the RMS target, sets the gain
    assert np.max(np.abs(normalise_gain(click, WaveformParams()))) == pytest.approx(0.99)
    assert not np.any(normalise_gain(np.zeros(100), params))  # digital silence stays silent


def test_windows_are_cut_without_padding_and_normalised_each() -> None:
    params = WaveformParams(window_samples=100, window_hop_samples=50)
    x = np.concatenate([0.001 * np.ones(100), 0.5 * np.ones(150)])
    windows = waveform_windows(x, params)
    assert windows.shape == (4, 100)
    assert np.allclose(np.sqrt(np.mean(windows**2, axis=1)), 10 ** (-20 / 20))
    assert waveform_windows(x[:99], params).shape == (0, 100)


def test_params_are_checked_and_hashed() -> None:
    assert WaveformParams().params_hash == WaveformParams().params_hash
    assert WaveformParams(target_rms_dbfs=-30).params_hash != WaveformParams().params_hash
    with pytest.raises(WaveformParamsError):
        WaveformParams(peak_limit=0)
