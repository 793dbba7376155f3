"""Calibration: from dBFS to dB SPL.

Conventions (stated once, used everywhere):

- dBFS follows AES17 / IEC 61606: a full-scale sine reads 0 dBFS, i.e. dBFS = 20*lg(rms) + 3.01
  for samples in [-1, 1].
- A calibration offset O means dB SPL = dBFS + O.
- A microphone sensitivity S (dBFS) is what a 94 dB SPL 1 kHz tone reads, so O = 94 - S.

``analyze_calibrator_recording`` derives O from a recording of an acoustic calibrator (94 or
114 dB at 1 kHz):

1. find the tone near the nominal frequency in a high-resolution spectrum (hum at 50/60 Hz and
   its harmonics lie outside the search band);
2. measure the tone's power alone, every 100 ms, from the spectrum bins around it (a narrow-band
   estimate: broadband noise and hum add almost nothing);
3. keep the frames within 0.5 dB of the median tone level (the calibrator seated on the
   microphone; handling noise at the start and end is left out);
4. offset = reference level - the tone's dBFS over those frames; the signal-to-noise ratio and the
   tone's fluctuation over 0.5 s windows are reported, with warnings when they are poor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from noisefleet_core.acoustics.units import (
    AES17_DB,
    DEFAULT_MAX_FLUCTUATION_DB,
    SENSITIVITY_REFERENCE_DB,
    offset_from_sensitivity,
)
from noisefleet_core.acoustics.weighting import FloatArray

__all__ = [
    "DEFAULT_MAX_FLUCTUATION_DB",
    "SENSITIVITY_REFERENCE_DB",
    "CalibrationError",
    "CalibrationResult",
    "analyze_calibrator_recording",
    "offset_from_sensitivity",
    "welch_psd",
]

FRAME_S = 0.1
BAND_HALF_WIDTH_HZ = 30.0
PLATEAU_TOLERANCE_DB = 0.5
MIN_PLATEAU_S = 1.0
MIN_SNR_DB = 10.0
WARN_SNR_DB = 30.0
STABILITY_WINDOW_FRAMES = 5


class CalibrationError(ValueError):
    """The recording cannot give a calibration; the message says what to do."""


@dataclass(frozen=True)
class CalibrationResult:
    """What a calibrator recording says about the measurement chain."""

    offset_db: float
    """dB SPL = dBFS + offset_db."""
    sensitivity_dbfs: float
    """The dBFS a 94 dB SPL tone reads with this chain."""
    reference_db: float
    tone_hz: float
    tone_dbfs: float
    snr_db: float
    """Tone power over the power of everything else, over the frames used."""
    fluctuation_db: float
    """Largest minus smallest tone level over 0.5 s windows of the frames used."""
    used_s: float
    """Length of the steady part of the recording that was used."""
    warnings: tuple[str, ...]


def _frame_powers(x: FloatArray, fs: int, tone_hz: float) -> tuple[FloatArray, FloatArray]:
    """Per 100 ms frame: (tone power, total power), both as mean squares."""
    n = max(16, round(FRAME_S * fs))
    frames = x[: (x.size // n) * n].reshape(-1, n)
    window = _periodic_hann(n)
    spectrum = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    scale = 2.0 / (n * float(np.sum(window**2)))
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    band = np.abs(freqs - tone_hz) <= BAND_HALF_WIDTH_HZ
    tone = spectrum[:, band].sum(axis=1) * scale
    # "Everything else" near the tone: mains hum (50/60 Hz and low harmonics) and handling
    # rumble below half the tone frequency are not noise the tone has to beat.
    total = spectrum[:, freqs >= 0.5 * tone_hz].sum(axis=1) * scale
    return tone, total


def _periodic_hann(n: int) -> FloatArray:
    """``scipy.signal.get_window("hann", n)``: the periodic Hann window, for spectra."""
    return np.asarray(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n), dtype=np.float64)


def welch_psd(x: FloatArray, fs: int, nperseg: int) -> tuple[FloatArray, FloatArray]:
    """(frequencies, power spectral density) as ``scipy.signal.welch(x, fs, nperseg=nperseg)``
    with its defaults: periodic Hann segments overlapping by half, each without its mean,
    one-sided density, averaged."""
    step = nperseg - nperseg // 2
    segments = np.lib.stride_tricks.sliding_window_view(x, nperseg)[::step]
    segments = segments - segments.mean(axis=1, keepdims=True)
    window = _periodic_hann(nperseg)
    spectrum = np.abs(np.fft.rfft(segments * window, axis=1)) ** 2
    psd = spectrum.mean(axis=0) / (fs * float(np.sum(window**2)))
    psd[1 : None if nperseg % 2 else -1] *= 2.0  # one-sided: all but DC (and Nyquist)
    freqs = np.asarray(np.fft.rfftfreq(nperseg, 1.0 / fs), dtype=np.float64)
    return freqs, np.asarray(psd, dtype=np.float64)


def _find_tone(x: FloatArray, fs: int, nominal_hz: float) -> float:
    nperseg = min(x.size, 1 << int(math.log2(fs)))  # about 1 Hz resolution
    freqs, psd = welch_psd(x, fs, nperseg)
    search = (freqs >= 0.8 * nominal_hz) & (freqs <= 1.25 * nominal_hz)
    if not np.any(search):
        raise CalibrationError(f"the recording's sample rate cannot hold a {nominal_hz:g} Hz tone")
    index = int(np.flatnonzero(search)[np.argmax(psd[search])])
    if 0 < index < psd.size - 1:  # parabolic interpolation of the peak on a log scale
        a, b, c = np.log(psd[index - 1 : index + 2] + 1e-300)
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom != 0 else 0.0
        return float(freqs[index] + shift * (freqs[1] - freqs[0]))
    return float(freqs[index])


def analyze_calibrator_recording(
    x: FloatArray,
    sample_rate_hz: int,
    reference_db: float = SENSITIVITY_REFERENCE_DB,
    nominal_tone_hz: float = 1000.0,
    max_fluctuation_db: float = DEFAULT_MAX_FLUCTUATION_DB,
) -> CalibrationResult:
    """Derive the calibration offset from a calibrator recording (samples in full-scale units)."""
    samples = np.asarray(x, dtype=np.float64)
    if samples.ndim != 1:
        raise CalibrationError("pass one channel of the calibrator recording")
    if not np.all(np.isfinite(samples)):
        raise CalibrationError("the recording holds non-finite samples; record it again")
    if samples.size < MIN_PLATEAU_S * sample_rate_hz:
        raise CalibrationError(
            f"the recording is shorter than {MIN_PLATEAU_S:g} s; record at least 5 s of the "
            "calibrator tone"
        )
    tone_hz = _find_tone(samples, sample_rate_hz, nominal_tone_hz)
    tone_power, total_power = _frame_powers(samples, sample_rate_hz, tone_hz)
    if not np.any(tone_power > 0):
        raise CalibrationError("the recording is silent: no calibrator tone found")
    tone_db = 10.0 * np.log10(np.maximum(tone_power, 1e-30))
    median = float(np.median(tone_db))
    steady = np.abs(tone_db - median) <= PLATEAU_TOLERANCE_DB
    used_s = float(np.count_nonzero(steady) * FRAME_S)
    if used_s < MIN_PLATEAU_S:
        raise CalibrationError(
            f"the tone is steady for only {used_s:.1f} s; hold the calibrator on the microphone "
            "for at least 5 s"
        )
    tone_ms = float(np.mean(tone_power[steady]))
    noise_ms = max(float(np.mean(total_power[steady])) - tone_ms, 1e-30)
    snr_db = 10.0 * math.log10(tone_ms / noise_ms)
    if snr_db < MIN_SNR_DB:
        raise CalibrationError(
            f"no clear calibrator tone near {nominal_tone_hz:g} Hz (tone-to-noise ratio "
            f"{snr_db:.1f} dB); check the calibrator is on and seated on the microphone"
        )
    tone_dbfs = 10.0 * math.log10(tone_ms) + AES17_DB
    offset = reference_db - tone_dbfs

    steady_levels = tone_db[steady]
    windows = steady_levels.size // STABILITY_WINDOW_FRAMES
    if windows >= 2:
        grouped = steady_levels[: windows * STABILITY_WINDOW_FRAMES].reshape(windows, -1)
        window_db = 10.0 * np.log10(np.mean(10.0 ** (grouped / 10.0), axis=1))
        fluctuation = float(window_db.max() - window_db.min())
    else:
        fluctuation = float(steady_levels.max() - steady_levels.min())

    warnings = []
    if fluctuation > max_fluctuation_db:
        warnings.append(
            f"the tone level fluctuates by {fluctuation:.2f} dB (more than "
            f"{max_fluctuation_db:g} dB): reseat the calibrator, shield it from wind and repeat"
        )
    if snr_db < WARN_SNR_DB:
        warnings.append(
            f"background noise is only {snr_db:.1f} dB below the tone: calibrate somewhere quieter"
        )
    if abs(tone_hz - nominal_tone_hz) > 0.02 * nominal_tone_hz:
        warnings.append(
            f"the tone is at {tone_hz:.0f} Hz, not {nominal_tone_hz:g} Hz: check the calibrator"
        )
    steady_fraction = float(np.mean(steady))
    if steady_fraction < 0.5:
        warnings.append(
            f"only {steady_fraction:.0%} of the recording holds a steady tone; trim handling noise"
        )
    if float(np.max(np.abs(samples))) >= 0.999:
        warnings.append("the recording clips: lower the input gain and repeat")
    return CalibrationResult(
        offset_db=offset,
        sensitivity_dbfs=SENSITIVITY_REFERENCE_DB - offset,
        reference_db=reference_db,
        tone_hz=tone_hz,
        tone_dbfs=tone_dbfs,
        snr_db=snr_db,
        fluctuation_db=fluctuation,
        used_s=used_s,
        warnings=tuple(warnings),
    )
