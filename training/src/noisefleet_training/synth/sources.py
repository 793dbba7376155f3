"""Procedural sources for the ten UrbanSound8K classes: dry mono sound, before any room.

Every generator has the signature ``(rng, fs, duration_s, variant) -> array`` and returns
``round(duration_s * fs)`` float64 samples peaking at 0.9 (the sound may end before the array
does: barks, shots and honks leave silence after them). ``variant`` holds the class's ranges
(see ``settings._CLASS_TABLE`` for what pitch, rate and modulation mean per class); everything
else (harmonic levels, envelopes, resonances, timings) is drawn inside from wide fixed ranges.
The mechanical and signalling sources live here; voices are in ``voices``, music in ``music``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
from scipy import signal

from .dsp import (
    SPEED_OF_SOUND_M_S,
    FloatArray,
    add_at,
    bandpass,
    coloured_noise,
    exp_decay,
    harmonic_amplitudes,
    harmonic_series,
    highpass,
    lowpass,
    n_samples,
    normalise_peak,
    normalise_rms,
    phase_of,
    ramp_envelope,
    resonators,
    sine,
    smooth_random,
    white,
)
from .music import street_music
from .settings import SourceRanges
from .voices import children_playing, dog_bark

SourceGenerator = Callable[[np.random.Generator, int, float, SourceRanges], FloatArray]


def _db(level_db: float) -> float:
    return float(10.0 ** (level_db / 20.0))


def _bursts(
    rng: np.random.Generator, n: int, fs: int, count: int, gap_s: tuple[float, float]
) -> list[tuple[int, int]]:
    """Split n samples into ``count`` on-periods separated by random gaps: (start, length) pairs."""
    gaps = rng.uniform(*gap_s, count - 1) * fs
    available = n - gaps.sum()
    if count == 1 or available < count * 0.2 * fs:
        return [(0, n)]
    lengths = rng.dirichlet(np.full(count, 3.0)) * available
    starts = np.concatenate(([0.0], np.cumsum(lengths[:-1] + gaps)))
    return [(int(s), int(length)) for s, length in zip(starts, lengths, strict=True)]


def air_conditioner(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """Steady: fan blade-pass harmonics, compressor mains hum and broadband airflow noise."""
    n = n_samples(fs, duration_s)
    out = np.zeros(n)
    for _ in range(variant.draw_count(rng)):
        blades = int(rng.integers(3, 9))
        blade_pass = variant.pitch_hz.sample(rng)
        shaft_phase = phase_of(
            blade_pass / blades * (1.0 + 0.004 * smooth_random(rng, n, fs, 0.5)),
            fs,
            rng.uniform(0, 6.3),
        )
        # Blade-pass harmonics dominate; a few shaft harmonics add the imbalance rumble.
        blade_amps = harmonic_amplitudes(rng, blade_pass, fs, -4.0, limit_hz=5 * blade_pass)
        shaft_amps = harmonic_amplitudes(rng, 1.0, fs, -3.0, limit_hz=blades - 1, jitter_db=6)
        fan = _db(rng.uniform(10.0, 24.0)) * harmonic_series(blades * shaft_phase, blade_amps)
        fan = normalise_rms(fan + harmonic_series(shaft_phase, shaft_amps))
        mains = float(rng.choice([50.0, 60.0]))
        hum_amps = harmonic_amplitudes(rng, mains, fs, -6.0, limit_hz=600.0, jitter_db=8)
        hum_amps[1] *= _db(rng.uniform(0.0, 10.0))  # transformer hum sits at twice mains
        hum = normalise_rms(harmonic_series(phase_of(np.full(n, mains), fs), hum_amps))
        airflow = bandpass(
            coloured_noise(rng, n, rng.uniform(0.5, 1.2)),
            rng.uniform(120.0, 400.0),
            rng.uniform(1500.0, 6000.0),
            fs,
        )
        airflow = normalise_rms(airflow)
        unit = (
            _db(rng.uniform(-12.0, 0.0)) * fan
            + _db(rng.uniform(-24.0, -8.0)) * hum
            + _db(rng.uniform(-3.0, 9.0)) * airflow
        )
        out += unit * _db(rng.uniform(-8.0, 0.0))
    fluctuation = 1.0 + variant.modulation.sample(rng) * smooth_random(
        rng, n, fs, variant.rate_hz.sample(rng)
    )
    out *= fluctuation * ramp_envelope(n, fs, rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3))
    return normalise_peak(out)


def car_horn(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """Two or three buzzy harmonic-rich tones (a third or fourth apart), sharp on and off."""
    n = n_samples(fs, duration_s)
    honks = variant.draw_count(rng)
    if honks == 1:
        timeline = [(0, int(n * rng.uniform(0.7, 1.0)))]
    else:
        period = fs / variant.rate_hz.sample(rng)
        duty = rng.uniform(0.45, 0.8)
        starts = np.cumsum(np.concatenate(([0.0], period * rng.uniform(0.85, 1.15, honks - 1))))
        timeline = [(int(s), int(period * duty)) for s in starts if s + 0.08 * fs < n]
        timeline = timeline or [(0, n)]
    end = min(n, max(start + length for start, length in timeline))
    gate = np.zeros(end)
    for start, planned in timeline:
        length = min(planned, end - start)
        gate[start : start + length] = ramp_envelope(
            length, fs, rng.uniform(0.004, 0.015), rng.uniform(0.01, 0.04)
        )
    fundamental = variant.pitch_hz.sample(rng)
    ratios = [1.0, float(rng.choice([1.189, 1.25, 1.26, 1.335]))]
    if rng.random() < 0.4:
        ratios.append(float(rng.choice([1.414, 1.5, 1.587])))
    drift = 1.0 + 0.004 * smooth_random(rng, end, fs, 3.0)
    slope = rng.uniform(-7.0, -2.5)
    tone = np.zeros(end)
    for ratio in ratios:
        freq = fundamental * ratio * drift
        amps = harmonic_amplitudes(rng, freq.max(), fs, slope, limit_hz=6500.0)
        tone += harmonic_series(phase_of(freq, fs, rng.uniform(0, 6.3)), amps)
    buzz = variant.modulation.sample(rng)
    tone *= 1.0 + 0.5 * buzz * sine(rng.uniform(25.0, 70.0), end, fs)
    flare = resonators(tone, [rng.uniform(1800.0, 3200.0)], [rng.uniform(300.0, 700.0)], fs)
    tone = normalise_rms(tone) + rng.uniform(0.2, 1.0) * normalise_rms(flare)
    out = np.zeros(n)
    out[:end] = tone * gate
    return normalise_peak(out)


def drilling(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """A high motor whine with spin-up, load dips and chuck modulation, in on/off bursts."""
    n = n_samples(fs, duration_s)
    out = np.zeros(n)
    whine = variant.pitch_hz.sample(rng)
    am_rate = variant.rate_hz.sample(rng)
    depth = variant.modulation.sample(rng)
    gear_ratio = float(rng.integers(6, 20))
    for start, length in _bursts(rng, n, fs, variant.draw_count(rng), (0.1, 0.6)):
        t = np.arange(length) / fs
        spin = 1.0 - 0.5 * exp_decay(length, fs, rng.uniform(0.05, 0.2))
        spin *= 1.0 - 0.4 * np.clip((t - t[-1] + rng.uniform(0.1, 0.3)) / 0.3, 0.0, 1.0)
        load = 1.0 - 0.06 * depth * (1.0 + smooth_random(rng, length, fs, 2.0))
        freq = whine * spin * load
        amps = harmonic_amplitudes(rng, freq.min(), fs, rng.uniform(-12.0, -4.0))
        motor = normalise_rms(harmonic_series(phase_of(freq, fs), amps, freq, 0.45 * fs))
        gear_amps = harmonic_amplitudes(rng, whine / gear_ratio, fs, -4.0, limit_hz=1500.0)[:8]
        gear = normalise_rms(harmonic_series(phase_of(freq / gear_ratio, fs), gear_amps))
        bit = normalise_rms(
            bandpass(white(rng, length), rng.uniform(600, 1500), rng.uniform(4e3, 7e3), fs)
        )
        chuck = 1.0 - depth + depth * 0.5 * (1.0 + sine(am_rate, length, fs))
        burst = (
            motor * (1.0 - 0.5 * depth + 0.5 * depth * chuck)
            + _db(rng.uniform(-18.0, -6.0)) * gear
            + _db(rng.uniform(-12.0, 0.0)) * bit * chuck
        )
        burst *= ramp_envelope(length, fs, rng.uniform(0.02, 0.06), rng.uniform(0.05, 0.15))
        add_at(out, burst, start)
    return normalise_peak(out)


def engine_idling(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """Steady low firing pulses, cycle jitter and cylinder imbalance, through exhaust resonances."""
    n = n_samples(fs, duration_s)
    out = np.zeros(n)
    jitter = variant.modulation.sample(rng)
    for _ in range(variant.draw_count(rng)):
        firing = variant.pitch_hz.sample(rng)
        hunting = 1.0 + rng.uniform(0.01, 0.05) * smooth_random(
            rng, n, fs, variant.rate_hz.sample(rng)
        )
        cycles = np.cumsum(firing * hunting) / fs
        crossings = np.searchsorted(cycles, np.arange(1.0, cycles[-1]))
        offsets = rng.normal(0.0, 0.08 * jitter * fs / firing, crossings.size)
        positions = np.clip(np.round(crossings + offsets).astype(np.int64), 0, n - 1)
        cylinders = int(rng.choice([3, 4, 6, 8]))
        balance = 1.0 + 0.3 * jitter * rng.standard_normal(cylinders)
        amps = balance[np.arange(positions.size) % cylinders] * (
            1.0 + 0.15 * rng.standard_normal(positions.size)
        )
        pulses = np.zeros(n)
        np.add.at(pulses, positions, amps)
        exhaust = resonators(pulses, [rng.uniform(60, 160)], [rng.uniform(20, 60)], fs)
        body = resonators(pulses, [rng.uniform(250, 700)], [rng.uniform(80, 200)], fs)
        ticks = signal.lfilter([1.0], [1.0, -np.exp(-1.0 / (0.003 * fs))], np.abs(pulses))
        valves = highpass(white(rng, n), rng.uniform(1500, 3500), fs) * ticks
        rumble = lowpass(coloured_noise(rng, n, 2.0), rng.uniform(80, 200), fs)
        vehicle = (
            normalise_rms(exhaust)
            + _db(rng.uniform(-12.0, -2.0)) * normalise_rms(body)
            + _db(rng.uniform(-30.0, -16.0)) * normalise_rms(np.asarray(valves, dtype=np.float64))
            + _db(rng.uniform(-20.0, -8.0)) * normalise_rms(rumble)
        )
        out += vehicle * _db(rng.uniform(-8.0, 0.0))
    out *= ramp_envelope(n, fs, rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3))
    return normalise_peak(out)


def gun_shot(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """An N-wave crack, a broadband blast with a fast decay and a boom, then echoes and a tail."""
    n = n_samples(fs, duration_s)
    out = np.zeros(n)
    boom_hz = variant.pitch_hz.sample(rng)
    echo_level = variant.modulation.sample(rng)
    shot_len = min(n, round(0.25 * fs))
    reflections = sorted(rng.uniform(0.03, 0.45, int(rng.integers(2, 7))))
    start = rng.uniform(0.0, min(0.05 * fs, n / 4))
    for _ in range(variant.draw_count(rng)):
        if start >= n:
            break
        t = np.arange(shot_len) / fs
        shot = np.zeros(shot_len)
        wave_len = max(4, round(rng.uniform(0.0006, 0.002) * fs))
        shot[:wave_len] = np.linspace(1.0, -1.0, wave_len)
        crack = lowpass(white(rng, shot_len), rng.uniform(4e3, 7.5e3), fs)
        shot += 0.8 * crack * exp_decay(shot_len, fs, rng.uniform(0.002, 0.008))
        blast = lowpass(white(rng, shot_len), rng.uniform(1e3, 3e3), fs)
        shot += 0.6 * blast * exp_decay(shot_len, fs, rng.uniform(0.01, 0.04))
        boom = np.sin(2 * np.pi * boom_hz * t) * exp_decay(shot_len, fs, rng.uniform(0.02, 0.07))
        shot += rng.uniform(0.3, 0.9) * boom
        shot = normalise_peak(shot, 1.0)
        at = int(start)
        add_at(out, shot, at)
        dull = lowpass(shot, rng.uniform(1500, 4000), fs)
        for index, delay in enumerate(reflections):
            gain = echo_level * rng.uniform(0.3, 0.8) / (1 + index)
            add_at(out, gain * dull, at + round(delay * fs))
        tail_len = min(n - at, round(1.2 * fs))
        tail = lowpass(white(rng, tail_len), rng.uniform(1e3, 3e3), fs)
        tail *= exp_decay(tail_len, fs, rng.uniform(0.12, 0.45)) * ramp_envelope(
            tail_len, fs, 0.02, 0.01
        )
        add_at(out, 0.25 * echo_level * tail, at)
        start += fs / variant.rate_hz.sample(rng) * rng.uniform(0.8, 1.2)
    return normalise_peak(out)


def jackhammer(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """Periodic impacts (click, metallic ring, thump) at 10-25 Hz in bursts, with exhaust hiss."""
    n = n_samples(fs, duration_s)
    ring_hz = variant.pitch_hz.sample(rng)
    rate = variant.rate_hz.sample(rng)
    irregular = variant.modulation.sample(rng)
    kernel_len = round(0.08 * fs)
    t = np.arange(kernel_len) / fs
    ratios = [1.0, rng.uniform(1.5, 1.9), rng.uniform(2.3, 3.0), rng.uniform(3.5, 4.4)]
    ring = sum(
        (
            rng.uniform(0.3, 1.0)
            * np.sin(2 * np.pi * min(ring_hz * r, 0.45 * fs) * t + rng.uniform(0, 6.3))
            * exp_decay(kernel_len, fs, rng.uniform(0.008, 0.04))
            for r in ratios
        ),
        start=np.zeros(kernel_len),
    )
    click = highpass(white(rng, kernel_len), 2000.0, fs) * exp_decay(kernel_len, fs, 0.0015)
    thump = np.sin(2 * np.pi * rng.uniform(60, 140) * t) * exp_decay(
        kernel_len, fs, rng.uniform(0.01, 0.02)
    )
    kernel = (
        normalise_peak(ring, 1.0) + rng.uniform(0.5, 1.2) * click + rng.uniform(0.3, 1.0) * thump
    )
    impulses = np.zeros(n)
    hiss_gate = np.zeros(n)
    for start, length in _bursts(rng, n, fs, variant.draw_count(rng), (0.2, 0.8)):
        periods = (1.0 + 0.15 * irregular * rng.standard_normal(int(length * rate / fs) + 2)) / rate
        times = np.cumsum(np.clip(periods, 0.3 / rate, None)) - periods[0]
        times = times[times * fs < length - kernel_len / 4]
        gains = np.clip(1.0 + 0.3 * irregular * rng.standard_normal(times.size), 0.2, None)
        np.add.at(impulses, start + np.round(times * fs).astype(np.int64), gains)
        hiss_gate[start : start + length] = ramp_envelope(length, fs, 0.02, 0.05)
    hammer = signal.fftconvolve(impulses, kernel)[:n]
    pulse = 0.6 + 0.4 * sine(rate, n, fs, np.pi / 2)
    hiss = highpass(white(rng, n), rng.uniform(2500, 5000), fs) * hiss_gate * pulse
    out = normalise_peak(hammer) + rng.uniform(0.05, 0.25) * normalise_peak(hiss)
    return normalise_peak(out)


def _siren_contour(rng: np.random.Generator, n: int, fs: int, variant: SourceRanges) -> FloatArray:
    """Fundamental along time: a wail (slow sweep), a yelp (fast sweep) or a hi-lo two-tone."""
    low = variant.pitch_hz.sample(rng)
    high = low * rng.uniform(1.7, 2.2)
    rate = variant.rate_hz.sample(rng)
    t = np.arange(n) / fs
    mode = rng.choice(["wail", "yelp", "hilo"], p=[0.45, 0.35, 0.2])
    if mode == "hilo":
        period = 1.0 / (rate * rng.uniform(2.5, 4.0))
        square = ((t / period + rng.uniform()) % 1.0) < 0.5
        smooth = np.convolve(square.astype(np.float64), np.ones(160) / 160, mode="same")
        return low * (1.0 + (rng.uniform(1.25, 1.34) - 1.0) * smooth)
    if mode == "yelp":
        rate *= rng.uniform(10.0, 16.0)
    rise = rng.uniform(0.5, 0.75) if mode == "wail" else rng.uniform(0.75, 0.9)
    cycle = (rate * t + rng.uniform()) % 1.0
    shape = np.where(cycle < rise, cycle / rise, 1.0 - (cycle - rise) / (1.0 - rise))
    shape = shape * shape * (3.0 - 2.0 * shape)  # smoothstep: the sweep slows at its turns
    return low + (high - low) * shape


def siren(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """Swept square-ish or sawtooth-ish tones with vibrato and, often, a passing car's Doppler."""
    n = n_samples(fs, duration_s)
    out = np.zeros(n)
    t = np.arange(n) / fs
    amount = variant.modulation.sample(rng)
    for index in range(variant.draw_count(rng)):
        freq = _siren_contour(rng, n, fs, variant)
        freq *= 1.0 + 0.01 * amount * sine(rng.uniform(5.0, 8.0), n, fs)
        gain = np.ones(n)
        if rng.random() < 0.3 + 0.6 * amount:
            speed = rng.uniform(8.0, 20.0)
            closest = rng.uniform(5.0, 30.0)
            along = speed * (t - rng.uniform(0.0, duration_s))
            distance = np.hypot(closest, along)
            freq *= SPEED_OF_SOUND_M_S / (SPEED_OF_SOUND_M_S + speed * along / distance)
            gain = (closest / distance) ** 0.7
        amps = harmonic_amplitudes(rng, freq.min(), fs, rng.uniform(-9.0, -3.0), limit_hz=7000.0)
        if rng.random() < 0.6:  # electronic: square-ish, odd harmonics dominate
            amps[1::2] *= rng.uniform(0.0, 0.3)
        tone = harmonic_series(phase_of(freq, fs, rng.uniform(0, 6.3)), amps, freq, 7000.0)
        level = 1.0 if index == 0 else rng.uniform(0.3, 0.8)
        out += level * normalise_rms(tone) * gain
    out *= ramp_envelope(n, fs, rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.3))
    return normalise_peak(out)


SOURCES: Mapping[str, SourceGenerator] = MappingProxyType(
    {
        "air_conditioner": air_conditioner,
        "car_horn": car_horn,
        "children_playing": children_playing,
        "dog_bark": dog_bark,
        "drilling": drilling,
        "engine_idling": engine_idling,
        "gun_shot": gun_shot,
        "jackhammer": jackhammer,
        "siren": siren,
        "street_music": street_music,
    }
)


def generate_source(
    label: str, rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """The dry source of class ``label`` (``KeyError`` for an unknown label)."""
    return SOURCES[label](rng, fs, duration_s, variant)
