"""Pure-tone detection: calibration tones and test signals, never sirens or horns."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_core.features.tones import is_pure_tone

FS = 16000
T = np.arange(FS) / FS


@pytest.mark.parametrize("frequency_hz", [250.0, 440.0, 1000.0, 3150.0, 7000.0])
def test_steady_sines_are_pure_tones(frequency_hz: float) -> None:
    noise = 0.001 * np.random.default_rng(0).standard_normal(T.size)
    assert is_pure_tone(0.5 * np.sin(2 * np.pi * frequency_hz * T) + noise)


def test_sirens_horns_noise_and_silence_are_not() -> None:
    phase = 2 * np.pi * np.cumsum(1050 + 450 * np.sin(2 * np.pi * 0.8 * T)) / FS
    siren = np.sin(phase)  # a sweep, even without harmonics
    horn = sum(np.sin(2 * np.pi * k * 420 * T) / k for k in range(1, 6))
    noise = np.random.default_rng(1).standard_normal(T.size)
    for signal in (siren, horn, noise, np.zeros(T.size), np.zeros(100)):
        assert not is_pure_tone(signal)
