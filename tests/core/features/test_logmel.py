"""The numpy log-mel frontend against librosa (test-only dependency), and its parameter hash."""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest

from noisefleet_core.features.logmel import (
    FeatureParams,
    FeatureParamsError,
    LogMelFrontend,
    standardised_windows,
)

PARAM_SETS = [
    FeatureParams(),
    FeatureParams(
        sample_rate_hz=22050,
        n_fft=1024,
        hop_length=512,
        n_mels=60,
        fmin_hz=0.0,
        fmax_hz=11025.0,
        window_frames=31,
        window_hop_frames=15,
    ),
    FeatureParams(sample_rate_hz=16000, n_fft=400, hop_length=160, n_mels=40, fmax_hz=7600.0),
]


def _test_signal(fs: int, seconds: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(round(seconds * fs)) / fs
    chirp = np.sin(2 * np.pi * (200 * t + 900 * t**2))
    return 0.3 * chirp + 0.05 * rng.standard_normal(t.size)


@pytest.mark.parametrize("params", PARAM_SETS, ids=lambda p: f"{p.sample_rate_hz}-{p.n_mels}")
def test_log_mel_matches_librosa(params: FeatureParams) -> None:
    x = _test_signal(params.sample_rate_hz)
    ours = LogMelFrontend(params).log_mel(x)
    mel = librosa.feature.melspectrogram(
        y=x,
        sr=params.sample_rate_hz,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        window="hann",
        center=False,
        power=2.0,
        n_mels=params.n_mels,
        fmin=params.fmin_hz,
        fmax=params.fmax_hz,
        htk=False,
        norm="slaney",
    )
    reference = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T
    assert ours.shape == reference.shape
    assert np.max(np.abs(ours - reference)) < 1e-4


def test_windows_are_standardised_and_cut_as_configured() -> None:
    params = FeatureParams()
    frontend = LogMelFrontend(params)
    x = _test_signal(params.sample_rate_hz, seconds=3.0)
    windows = frontend.windows(x)
    frames = frontend.log_mel(x).shape[0]
    expected = (frames - params.window_frames) // params.window_hop_frames + 1
    assert windows.shape == (expected, params.window_frames, params.n_mels)
    np.testing.assert_allclose(windows.mean(axis=(1, 2)), 0.0, atol=1e-9)
    np.testing.assert_allclose(windows.std(axis=(1, 2)), 1.0, atol=1e-4)
    # The second window starts window_hop_frames frames after the first.
    log_mel = frontend.log_mel(x)
    second = log_mel[params.window_hop_frames : params.window_hop_frames + params.window_frames]
    np.testing.assert_allclose(
        windows[1], (second - second.mean()) / (second.std() + 1e-6), atol=1e-9
    )


def test_window_standardisation_removes_gain() -> None:
    """A clip 20 dB quieter gives the same windows: streaming normalisation needs no statistics."""
    params = FeatureParams()
    frontend = LogMelFrontend(params)
    x = _test_signal(params.sample_rate_hz)
    np.testing.assert_allclose(frontend.windows(x), frontend.windows(0.1 * x), atol=1e-6)


def test_short_signals_give_no_windows() -> None:
    params = FeatureParams()
    frontend = LogMelFrontend(params)
    assert frontend.log_mel(np.zeros(params.n_fft - 1)).shape == (0, params.n_mels)
    assert frontend.windows(np.zeros(params.window_samples - 1)).shape[0] == 0
    assert frontend.windows(np.zeros(params.window_samples)).shape[0] == 1
    assert standardised_windows(np.zeros((3, params.n_mels)), params).shape[0] == 0


def test_params_hash_is_stable_and_sensitive() -> None:
    params = FeatureParams()
    assert params.params_hash == FeatureParams().params_hash
    assert len(params.params_hash) == 16
    for field in dataclasses.fields(FeatureParams):
        value = getattr(params, field.name)
        nudged = value - 1 if field.name == "fmax_hz" else value + 1
        changed = dataclasses.replace(params, **{field.name: nudged})
        assert changed.params_hash != params.params_hash, field.name


def test_inconsistent_params_are_refused() -> None:
    with pytest.raises(FeatureParamsError, match="fmax"):
        FeatureParams(fmax_hz=9000.0)
    with pytest.raises(FeatureParamsError):
        FeatureParams(n_mels=0)
    with pytest.raises(FeatureParamsError):
        FeatureParams(hop_length=0)
