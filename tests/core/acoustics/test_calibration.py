"""Calibration from a calibrator recording and from a datasheet sensitivity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from noisefleet_core.acoustics.calibration import (
    CalibrationError,
    analyze_calibrator_recording,
    offset_from_sensitivity,
    welch_psd,
)
from noisefleet_core.acoustics.meter import MeterSettings, SoundLevelMeter

FS = 48000
TONE_DBFS = -26.0
AES17_DB = 10 * np.log10(2.0)


def _recording(
    *,
    tone_dbfs: float = TONE_DBFS,
    tone_hz: float = 1000.0,
    hum_dbfs: float | None = -30.0,
    noise_dbfs: float = -60.0,
    tone_s: float = 5.0,
    margin_s: float = 1.0,
    wobble_db: float = 0.0,
    seed: int = 2024,
) -> tuple[np.ndarray, slice]:
    """A calibrator recording: handling noise, ``tone_s`` of tone, handling noise.

    Levels are dBFS per AES17 (a sine of amplitude A reads 20 lg A). ``wobble_db`` is the
    peak-to-peak depth of a slow (0.5 Hz) amplitude modulation of the tone.
    Returns the samples and the slice that holds the tone.
    """
    rng = np.random.default_rng(seed)
    margin = round(margin_s * FS)
    n_tone = round(tone_s * FS)
    n = n_tone + 2 * margin
    t = np.arange(n) / FS
    x = np.zeros(n)
    tone = slice(margin, margin + n_tone)
    envelope = 10 ** (wobble_db / 2 * np.sin(2 * np.pi * 0.5 * t[tone]) / 20)
    x[tone] = 10 ** (tone_dbfs / 20) * envelope * np.sin(2 * np.pi * tone_hz * t[tone])
    if hum_dbfs is not None:
        x += 10 ** (hum_dbfs / 20) * np.sin(2 * np.pi * 50.0 * t)
    # White noise whose dBFS (20 lg rms + 3.01) is noise_dbfs.
    x += 10 ** ((noise_dbfs - AES17_DB) / 20) * rng.standard_normal(n)
    # Handling noise while the calibrator is put on and taken off: low-frequency thumps.
    for start in (0, margin + n_tone) if margin else ():
        thump = rng.standard_normal(margin)
        thump = np.convolve(thump, np.ones(200) / 200, mode="same")
        x[start : start + margin] += 0.05 * thump / np.max(np.abs(thump))
    return x, tone


def test_offset_from_sensitivity() -> None:
    assert offset_from_sensitivity(-26.0) == pytest.approx(120.0, abs=1e-12)
    assert offset_from_sensitivity(-38.0) == pytest.approx(132.0, abs=1e-12)


def test_calibrator_recording_with_hum_and_noise_gives_the_offset() -> None:
    x, _ = _recording()
    result = analyze_calibrator_recording(x, FS)
    assert result.offset_db == pytest.approx(94.0 - TONE_DBFS, abs=0.05)
    assert result.sensitivity_dbfs == pytest.approx(TONE_DBFS, abs=0.05)
    assert result.tone_dbfs == pytest.approx(TONE_DBFS, abs=0.05)
    assert result.tone_hz == pytest.approx(1000.0, abs=1.0)
    assert result.reference_db == 94.0
    assert result.used_s == pytest.approx(5.0, abs=0.2)
    assert result.warnings == ()


def test_calibrator_recording_with_little_hum_gives_the_offset() -> None:
    # The same recording with the mains hum 34 dB lower (below the white noise).
    x, _ = _recording(hum_dbfs=-64.0)
    result = analyze_calibrator_recording(x, FS)
    assert result.offset_db == pytest.approx(120.0, abs=0.05)
    assert result.sensitivity_dbfs == pytest.approx(-26.0, abs=0.05)
    assert result.snr_db > 30.0
    assert result.fluctuation_db < 0.07
    assert result.used_s == pytest.approx(5.0, abs=0.2)
    assert result.warnings == ()


def test_calibration_round_trip_through_the_meter() -> None:
    x, tone = _recording(hum_dbfs=-64.0)
    offset = analyze_calibrator_recording(x, FS).offset_db
    # Measure the steady part of the recording (tone, hum and noise) with the found offset.
    steady = x[tone][FS // 2 : -FS // 2]  # 4 s, away from the handling noise
    meter = SoundLevelMeter(
        MeterSettings(FS, interval_s=1.0, calibration_offset_db=offset, calibrated=True)
    )
    records = meter.process(steady)
    assert len(records) == 4
    for record in records[1:]:
        assert record.laeq_db == pytest.approx(94.0, abs=0.05)
        assert record.calibrated is True


def test_reference_level_114_db() -> None:
    x, _ = _recording(tone_dbfs=-6.0, hum_dbfs=-64.0)
    result = analyze_calibrator_recording(x, FS, reference_db=114.0)
    assert result.reference_db == 114.0
    assert result.offset_db == pytest.approx(120.0, abs=0.05)
    assert result.sensitivity_dbfs == pytest.approx(-26.0, abs=0.05)
    assert result.tone_dbfs == pytest.approx(-6.0, abs=0.05)
    assert result.warnings == ()


def test_fluctuating_tone_gives_a_warning() -> None:
    x, _ = _recording(hum_dbfs=-64.0, wobble_db=1.0)
    result = analyze_calibrator_recording(x, FS)
    assert result.fluctuation_db > 0.2
    assert any("fluctuates" in warning for warning in result.warnings)


def test_off_frequency_calibrator_gives_a_warning() -> None:
    x, _ = _recording(hum_dbfs=-64.0, tone_hz=1100.0)
    result = analyze_calibrator_recording(x, FS)
    assert result.tone_hz == pytest.approx(1100.0, abs=1.0)
    assert result.offset_db == pytest.approx(120.0, abs=0.05)
    assert any("1100 Hz" in warning for warning in result.warnings)


def test_noise_only_is_rejected() -> None:
    rng = np.random.default_rng(11)
    noise = 0.05 * rng.standard_normal(6 * FS)
    with pytest.raises(CalibrationError, match="tone"):
        analyze_calibrator_recording(noise, FS)


def test_silence_is_rejected() -> None:
    with pytest.raises(CalibrationError, match="silent"):
        analyze_calibrator_recording(np.zeros(6 * FS), FS)


def test_too_short_recording_is_rejected() -> None:
    x, _ = _recording(tone_s=0.5, margin_s=0.0, hum_dbfs=-64.0)
    assert x.size == FS // 2
    with pytest.raises(CalibrationError, match="shorter"):
        analyze_calibrator_recording(x, FS)


def test_bad_input_shapes_and_values_are_rejected() -> None:
    x, _ = _recording(hum_dbfs=-64.0)
    with pytest.raises(CalibrationError, match="one channel"):
        analyze_calibrator_recording(np.stack([x, x]), FS)
    x[1000] = np.nan
    with pytest.raises(CalibrationError, match="non-finite"):
        analyze_calibrator_recording(x, FS)


@pytest.mark.parametrize(("n", "nperseg"), [(144000, 32768), (20001, 20001), (5000, 4096)])
def test_welch_psd_matches_scipy(n: int, nperseg: int) -> None:
    x = np.random.default_rng(n).standard_normal(n) + 0.3
    freqs, psd = welch_psd(x, 48000, nperseg)
    ref_freqs, ref_psd = signal.welch(x, fs=48000, nperseg=nperseg)
    np.testing.assert_array_equal(freqs, ref_freqs)
    np.testing.assert_allclose(psd, ref_psd, rtol=1e-10, atol=0)
