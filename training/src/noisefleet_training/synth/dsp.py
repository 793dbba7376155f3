"""Small vectorised signal building blocks shared by the sources, rooms and beds.

Everything here is a pure function of its arguments (randomness comes from the ``rng`` passed
in) and avoids per-sample Python loops: a clip must render in a few milliseconds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import fft as sp_fft
from scipy import signal

FloatArray = npt.NDArray[np.float64]

SPEED_OF_SOUND_M_S = 343.0


def n_samples(fs: int, duration_s: float) -> int:
    return max(1, round(duration_s * fs))


def white(rng: np.random.Generator, n: int) -> FloatArray:
    """Unit-variance white noise from uniform draws: four times cheaper than Gaussian draws,
    and after any filtering it is as Gaussian as the ear cares."""
    return np.asarray((rng.random(n) - 0.5) * np.sqrt(12.0), dtype=np.float64)


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> FloatArray:
    """Noise with power spectrum 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS.

    Shaped in the frequency domain: exact slope, O(n log n), no filter start-up transient.
    """
    size = fast_length(n)  # an awkward n (a large prime factor) would make the FFT crawl
    spectrum = np.fft.rfft(white(rng, size))
    freqs = np.arange(spectrum.size, dtype=np.float64)
    freqs[0] = 1.0
    spectrum *= freqs ** (-exponent / 2.0)
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, size)[:n]
    return normalise_rms(noise)


def fast_length(n: int) -> int:
    """The smallest length >= n whose FFT is fast (only factors 2, 3 and 5)."""
    return int(sp_fft.next_fast_len(n, real=True))


def normalise_rms(x: FloatArray, rms: float = 1.0) -> FloatArray:
    level = float(np.sqrt(np.mean(x**2))) if x.size else 0.0
    return x * (rms / level) if level > 0 else x


def normalise_peak(x: FloatArray, peak: float = 0.9) -> FloatArray:
    top = float(np.max(np.abs(x))) if x.size else 0.0
    return x * (peak / top) if top > 0 else x


def _clamp_hz(freq_hz: float, fs: int) -> float:
    return float(np.clip(freq_hz, 1.0, 0.45 * fs))


def _biquad(kind: str, freq_hz: float, fs: int, q: float = 0.7071) -> list[float]:
    """One second-order section (RBJ audio EQ cookbook), normalised for ``sosfilt``.

    Designed by hand because ``scipy.signal.butter`` costs about half a millisecond per call,
    and a clip designs dozens of filters.
    """
    theta = 2.0 * np.pi * _clamp_hz(freq_hz, fs) / fs
    cos_t, alpha = float(np.cos(theta)), float(np.sin(theta)) / (2.0 * q)
    if kind == "lowpass":
        b = [(1 - cos_t) / 2, 1 - cos_t, (1 - cos_t) / 2]
    elif kind == "highpass":
        b = [(1 + cos_t) / 2, -(1 + cos_t), (1 + cos_t) / 2]
    else:
        raise ValueError(kind)
    a0 = 1.0 + alpha
    return [b[0] / a0, b[1] / a0, b[2] / a0, 1.0, -2.0 * cos_t / a0, (1.0 - alpha) / a0]


def _one_pole(kind: str, freq_hz: float, fs: int) -> list[float]:
    """A first-order section (bilinear transform), -6 dB/octave beyond ``freq_hz``."""
    k = float(np.tan(np.pi * _clamp_hz(freq_hz, fs) / fs))
    a1 = (k - 1.0) / (k + 1.0)
    if kind == "lowpass":
        return [k / (k + 1.0), k / (k + 1.0), 0.0, 1.0, a1, 0.0]
    return [1.0 / (k + 1.0), -1.0 / (k + 1.0), 0.0, 1.0, a1, 0.0]


def _sections(kind: str, freq_hz: float, fs: int, order: int) -> list[list[float]]:
    """Butterworth-like sections: ``order`` 1 is one pole, 2 one biquad, 4 two biquads."""
    if order == 1:
        return [_one_pole(kind, freq_hz, fs)]
    if order == 4:
        return [_biquad(kind, freq_hz, fs, 0.5412), _biquad(kind, freq_hz, fs, 1.3066)]
    return [_biquad(kind, freq_hz, fs)]


def _filter(x: FloatArray, sections: list[list[float]]) -> FloatArray:
    return np.asarray(signal.sosfilt(np.array(sections), x), dtype=np.float64)


def lowpass(x: FloatArray, cutoff_hz: float, fs: int, order: int = 2) -> FloatArray:
    return _filter(x, _sections("lowpass", cutoff_hz, fs, order))


def highpass(x: FloatArray, cutoff_hz: float, fs: int, order: int = 2) -> FloatArray:
    return _filter(x, _sections("highpass", cutoff_hz, fs, order))


def bandpass(x: FloatArray, low_hz: float, high_hz: float, fs: int, order: int = 2) -> FloatArray:
    """A high-pass at ``low_hz`` and a low-pass at ``high_hz`` in one pass."""
    high = max(high_hz, low_hz * 1.05)
    sections = _sections("highpass", low_hz, fs, order) + _sections("lowpass", high, fs, order)
    return _filter(x, sections)


def resonators(
    x: FloatArray, freqs_hz: list[float], bandwidths_hz: list[float], fs: int
) -> FloatArray:
    """A cascade of two-pole resonators with unit peak gain (formants, body resonances)."""
    sections = []
    for freq, bandwidth in zip(freqs_hz, bandwidths_hz, strict=True):
        radius = float(np.exp(-np.pi * bandwidth / fs))
        theta = 2.0 * np.pi * _clamp_hz(freq, fs) / fs
        gain = (1.0 - radius) * np.sqrt(1.0 - 2.0 * radius * np.cos(2 * theta) + radius**2)
        sections.append([gain, 0.0, 0.0, 1.0, -2.0 * radius * np.cos(theta), radius**2])
    return _filter(x, sections)


def rfft_freqs(n: int, fs: int) -> FloatArray:
    return np.asarray(np.fft.rfftfreq(n, 1.0 / fs), dtype=np.float64)


def smooth_random(rng: np.random.Generator, n: int, fs: int, rate_hz: float) -> FloatArray:
    """A random curve in about -1..1 whose value changes about ``rate_hz`` times a second.

    Used for pitch contours, gusts and level fluctuations: knots drawn uniformly and joined by a
    Catmull-Rom spline, evaluated at a 1/32 control rate and linearly interpolated (the curves
    are slow, so nothing audible is lost and it costs a tenth).
    """
    knots = max(4, int(np.ceil(n / fs * rate_hz)) + 3)
    values = rng.uniform(-1.0, 1.0, knots)
    controls = max(2, n // 32 + 2)
    positions = np.linspace(1.0, knots - 2.0, controls)
    index = np.minimum(positions.astype(np.int64), knots - 3)
    frac = positions - index
    p0, p1, p2, p3 = values[index - 1], values[index], values[index + 1], values[index + 2]
    curve = 0.5 * (
        2 * p1
        + (p2 - p0) * frac
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * frac**2
        + (3 * p1 - p0 - 3 * p2 + p3) * frac**3
    )
    return np.asarray(
        np.interp(np.linspace(0.0, controls - 1.0, n), np.arange(controls), curve), dtype=np.float64
    )


def phase_of(freq_hz: FloatArray, fs: int, start: float = 0.0) -> FloatArray:
    """Phase (radians, wrapped to 0..2 pi) of a tone whose frequency follows ``freq_hz``.

    Wrapped so that the single-precision sines in ``harmonic_series`` stay exact; integer
    multiples of a wrapped phase are still the right harmonic phases.
    """
    cycles = start / (2.0 * np.pi) + np.cumsum(freq_hz) / fs
    return (cycles - np.floor(cycles)) * (2.0 * np.pi)


def harmonic_series(
    phase: FloatArray,
    amplitudes: FloatArray,
    freq_hz: FloatArray | None = None,
    limit_hz: float | None = None,
) -> FloatArray:
    """Sum of ``amplitudes[k] * sin((k + 1) * phase)``.

    Uses the Chebyshev recurrence sin(k x) = 2 cos(x) sin((k-1) x) - sin((k-2) x): one sine and
    one cosine for the whole series instead of one sine per harmonic. With ``freq_hz`` (the
    fundamental along time) and ``limit_hz``, each harmonic fades out over 500 Hz as it nears
    the limit, so a swept tone keeps its bright low notes without aliasing on the high ones.
    """
    if amplitudes.size == 0:
        return np.zeros_like(phase)
    # Single precision: about 5x faster sines here, and still 140 dB below the signal.
    phase32 = phase.astype(np.float32)
    sin_prev = np.zeros_like(phase32)
    sin_cur = np.sin(phase32)
    twice_cos = 2.0 * np.cos(phase32)
    headroom = None
    if freq_hz is not None and limit_hz is not None:
        headroom = ((limit_hz - freq_hz) / 500.0).astype(np.float32)
        step = (freq_hz / 500.0).astype(np.float32)
    out = np.float32(amplitudes[0]) * sin_cur
    for amplitude in amplitudes[1:]:
        sin_prev, sin_cur = sin_cur, twice_cos * sin_cur - sin_prev
        if headroom is not None:
            headroom -= step  # (limit - k f) / 500 for this harmonic k
        if amplitude == 0.0:
            continue
        if headroom is not None:
            out += np.float32(amplitude) * np.clip(headroom, 0.0, 1.0) * sin_cur
        else:
            out += np.float32(amplitude) * sin_cur
    return out.astype(np.float64)


def pulse_train(freq_hz: FloatArray, fs: int, start_cycle: float = 0.0) -> FloatArray:
    """Unit impulses once per period of a time-varying frequency (a glottal or firing source).

    Impulses sit on whole samples, so the period jitters by up to half a sample: a fraction of
    a percent at voice pitches, about the natural jitter of a voice, and no aliasing.
    """
    cycles = np.floor(start_cycle + np.cumsum(freq_hz) / fs)
    pulses = np.zeros(freq_hz.size)
    pulses[1:][np.diff(cycles) > 0] = 1.0
    return pulses


def harmonic_amplitudes(
    rng: np.random.Generator,
    max_freq_hz: float,
    fs: int,
    slope_db_per_octave: float,
    *,
    limit_hz: float | None = None,
    jitter_db: float = 3.0,
) -> FloatArray:
    """Amplitudes of harmonics 1..K falling at a given slope, none above Nyquist (no aliasing).

    ``max_freq_hz`` is the highest fundamental the tone reaches.
    """
    top = min(0.45 * fs, limit_hz or 0.45 * fs)
    count = max(1, int(top // max(max_freq_hz, 1.0)))
    k = np.arange(1, count + 1, dtype=np.float64)
    level_db = slope_db_per_octave * np.log2(k) + rng.normal(0.0, jitter_db, count)
    level_db[0] = 0.0
    return np.asarray(10.0 ** (level_db / 20.0), dtype=np.float64)


def exp_decay(n: int, fs: int, tau_s: float) -> FloatArray:
    """exp(-t / tau), computed in single precision (float64 exp is 15x slower here)."""
    rate = np.float32(-1.0 / (fs * max(tau_s, 1e-4)))
    return np.asarray(np.exp(np.arange(n, dtype=np.float32) * rate), dtype=np.float64)


def sine(freq_hz: float, n: int, fs: int, phase: float = 0.0) -> FloatArray:
    """A steady sine; wrapped phase and single-precision sine, like ``harmonic_series``."""
    cycles = phase / (2.0 * np.pi) + np.arange(n) * (freq_hz / fs)
    wrapped = ((cycles - np.floor(cycles)) * (2.0 * np.pi)).astype(np.float32)
    return np.asarray(np.sin(wrapped), dtype=np.float64)


def ramp_envelope(n: int, fs: int, attack_s: float, release_s: float) -> FloatArray:
    """1 with raised-cosine ramps at both ends (no clicks)."""
    env = np.ones(n)
    attack = min(n // 2, max(1, round(attack_s * fs)))
    release = min(n - attack, max(1, round(release_s * fs)))
    env[:attack] = 0.5 - 0.5 * np.cos(
        np.arange(attack, dtype=np.float32) * np.float32(np.pi / attack)
    )
    env[n - release :] = 0.5 + 0.5 * np.cos(
        np.arange(1, release + 1, dtype=np.float32) * np.float32(np.pi / release)
    )
    return env


def add_at(target: FloatArray, piece: FloatArray, start: int) -> None:
    """Add ``piece`` into ``target`` from ``start``, cropping whatever falls outside."""
    begin = max(start, 0)
    end = min(start + piece.size, target.size)
    if end > begin:
        target[begin:end] += piece[begin - start : end - start]


def frame_rms_db(x: FloatArray, fs: int, frame_s: float = 0.01) -> FloatArray:
    """RMS level (dB re 1) of consecutive frames; a partial last frame counts as a frame."""
    frame = max(1, round(frame_s * fs))
    count = -(-x.size // frame)
    padded = np.zeros(count * frame)
    padded[: x.size] = x
    power = np.mean(padded.reshape(count, frame) ** 2, axis=1)
    return np.asarray(10.0 * np.log10(np.maximum(power, 1e-20)), dtype=np.float64)


def audible_extent(
    x: FloatArray, fs: int, threshold_db: float = 30.0, frame_s: float = 0.01
) -> tuple[int, int]:
    """First and one-past-last sample of the frames within ``threshold_db`` of the loudest frame.

    This is what a label marks: where the sound itself is clearly present, reverberant tail
    included down to that threshold. An all-zero signal has an empty extent (0, 0).
    """
    levels = frame_rms_db(x, fs, frame_s)
    if not np.any(levels > -200.0):
        return 0, 0
    frame = max(1, round(frame_s * fs))
    active = np.flatnonzero(levels >= levels.max() - threshold_db)
    return int(active[0] * frame), int(min(x.size, (active[-1] + 1) * frame))
