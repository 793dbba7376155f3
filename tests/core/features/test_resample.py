"""The shared resampler keeps tones where they are and lengths as expected."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_core.features.resample import resample


@pytest.mark.parametrize(
    ("source", "target"), [(48000, 16000), (44100, 16000), (22050, 16000), (8000, 16000)]
)
def test_tone_keeps_its_frequency_and_level(source: int, target: int) -> None:
    t = np.arange(source) / source  # 1 s
    x = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    y = resample(x, source, target)
    assert y.size == target
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    assert np.fft.rfftfreq(y.size, 1 / target)[np.argmax(spectrum)] == pytest.approx(
        1000.0, abs=1.0
    )
    middle = y[target // 10 : -target // 10]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_same_rate_is_identity_and_bad_rates_fail() -> None:
    x = np.arange(10.0)
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0, 16000)
