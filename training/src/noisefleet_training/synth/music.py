"""Street music: a busker band of simple synthesised instruments playing a random tune.

Steps: pick a key (root = ``variant.pitch_hz``), a scale and a tempo (``variant.rate_hz`` beats
per second); write a melody as a random walk over the scale on a beat grid; play it on a
plucked Karplus-Strong string or a reed; add ``count`` accompanying parts chosen from bass,
drums, strummed chords and an accordion-like pad; humanise timing and velocity by
``variant.modulation``.
"""

from __future__ import annotations

import numpy as np

from .dsp import (
    FloatArray,
    add_at,
    bandpass,
    exp_decay,
    harmonic_amplitudes,
    harmonic_series,
    highpass,
    n_samples,
    normalise_peak,
    normalise_rms,
    phase_of,
    ramp_envelope,
    resonators,
    white,
)
from .settings import SourceRanges

_SCALES: tuple[tuple[int, ...], ...] = (
    (0, 2, 4, 5, 7, 9, 11),  # major
    (0, 2, 3, 5, 7, 8, 10),  # natural minor
    (0, 2, 4, 7, 9),  # major pentatonic
    (0, 3, 5, 7, 10),  # minor pentatonic
    (0, 2, 3, 5, 7, 9, 10),  # dorian
    (0, 3, 5, 6, 7, 10),  # blues
)
_ACCOMPANIMENT = ("bass", "drums", "chords", "pad")


def pluck(
    rng: np.random.Generator, fs: int, freq_hz: float, length: int, decay_s: float, bright: float
) -> FloatArray:
    """A Karplus-Strong string, computed a period at a time in the frequency domain.

    The classic string is a noise burst fed back through a delay of P samples and a two-point
    average, so each period is the previous one with harmonic k scaled by cos(pi k / P). Raising
    that factor to the period index gives every period at once: no per-sample loop.
    """
    period = max(2, round(fs / freq_hz))
    periods = -(-length // period)
    burst = rng.uniform(-1.0, 1.0, period)
    burst = bright * burst + (1.0 - bright) * 0.5 * (burst + np.roll(burst, 1))
    spectrum = np.fft.rfft(burst - burst.mean())
    k = np.arange(spectrum.size)
    loss = 10.0 ** (-3.0 * period / (decay_s * fs))  # -60 dB after decay_s at the fundamental
    per_period = loss * np.abs(np.cos(np.pi * k / period))
    powers = per_period[None, :] ** np.arange(periods)[:, None]
    string = np.fft.irfft(spectrum[None, :] * powers, period, axis=1).ravel()[:length]
    return np.asarray(string * ramp_envelope(length, fs, 0.001, 0.02), dtype=np.float64)


def _reed(rng: np.random.Generator, fs: int, freq_hz: float, length: int) -> FloatArray:
    """A sustained reed or whistle-like note: harmonics, vibrato, a soft attack."""
    t = np.arange(length) / fs
    freq = freq_hz * (1.0 + 0.006 * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t))
    amps = harmonic_amplitudes(rng, freq_hz * 1.01, fs, rng.uniform(-10.0, -3.0), limit_hz=6000.0)
    note = harmonic_series(phase_of(freq, fs), amps)
    return note * ramp_envelope(length, fs, rng.uniform(0.02, 0.06), rng.uniform(0.03, 0.08))


def _drum(rng: np.random.Generator, fs: int, kind: str) -> FloatArray:
    length = round(0.3 * fs)
    t = np.arange(length) / fs
    if kind == "kick":
        sweep = 45.0 + rng.uniform(60.0, 120.0) * np.exp(-t / 0.03)
        return np.sin(phase_of(sweep, fs)) * exp_decay(length, fs, rng.uniform(0.04, 0.1))
    if kind == "snare":
        noise = bandpass(white(rng, length), 1000.0, 6000.0, fs)
        body = np.sin(2 * np.pi * rng.uniform(170.0, 230.0) * t)
        return (normalise_peak(noise) + 0.5 * body) * exp_decay(length, fs, rng.uniform(0.04, 0.1))
    hat = highpass(white(rng, length), 6000.0, fs)
    return normalise_peak(hat) * exp_decay(length, fs, rng.uniform(0.005, 0.02))


def _note_hz(root_hz: float, scale: tuple[int, ...], degree: int, octave: int) -> float:
    steps = len(scale)
    semitones = 12 * (octave + degree // steps) + scale[degree % steps]
    return float(root_hz * 2.0 ** (semitones / 12.0))


def street_music(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """A melody in a random key and scale over 1-3 accompanying parts, at a random tempo."""
    n = n_samples(fs, duration_s)
    root = variant.pitch_hz.sample(rng)
    beat = fs / variant.rate_hz.sample(rng)
    human = variant.modulation.sample(rng)
    scale = _SCALES[int(rng.integers(len(_SCALES)))]
    beats = int(n / beat) + 2
    offset = -rng.uniform(0.0, 1.0) * beat  # the clip starts anywhere in the bar

    def onset(beat_position: float) -> int:
        return round(offset + beat_position * beat + rng.normal(0.0, 0.02 * human * fs))

    def velocity() -> float:
        return float(1.0 - human * rng.uniform(0.0, 0.6))

    melody = np.zeros(n)
    voice = "pluck" if rng.random() < 0.6 else "reed"
    subdivision = int(rng.choice([1, 2]))
    degree, position = int(rng.integers(0, len(scale))), 0.0
    while position < beats:
        units = int(rng.choice([1, 1, 2, 2, 3, 4]))
        length = round(units * beat / subdivision)
        if rng.random() > 0.15:
            freq = _note_hz(root, scale, degree, 1)
            if voice == "pluck":
                note = pluck(rng, fs, freq, length, rng.uniform(0.4, 1.5), rng.uniform(0.4, 1.0))
            else:
                note = _reed(rng, fs, freq, length)
            add_at(melody, normalise_peak(note) * velocity(), onset(position))
        degree = int(np.clip(degree + rng.integers(-2, 3), -3, 2 * len(scale)))
        position += units / subdivision
    parts = [normalise_rms(melody)]
    for part in rng.choice(_ACCOMPANIMENT, size=variant.draw_count(rng), replace=False):
        track = np.zeros(n)
        for b in range(beats):
            if part == "bass" and rng.random() < 0.9:
                freq = _note_hz(root / 2, scale, int(rng.choice([0, 0, 4, 3])), 0)
                note = pluck(rng, fs, freq, round(beat), rng.uniform(0.3, 0.8), 0.2)
                add_at(track, normalise_peak(note) * velocity(), onset(b))
            elif part == "drums":
                add_at(track, _drum(rng, fs, "kick" if b % 2 == 0 else "snare"), onset(b))
                add_at(track, 0.4 * _drum(rng, fs, "hat") * velocity(), onset(b + 0.5))
            elif part == "chords" and b % 2 == 0:
                chord_root = int(rng.choice([0, 3, 4, 5]))
                for index, degree in enumerate((0, 2, 4)):
                    freq = _note_hz(root, scale, chord_root + degree, 0)
                    note = pluck(rng, fs, freq, round(2 * beat), rng.uniform(0.5, 1.5), 0.7)
                    add_at(track, normalise_peak(note) * velocity(), onset(b) + index * 80)
            elif part == "pad" and b % 4 == 0:
                for degree in (0, 2, 4):
                    note = _reed(rng, fs, _note_hz(root, scale, degree, 0), round(4 * beat))
                    add_at(track, normalise_peak(note), onset(b))
        if np.any(track):
            parts.append(normalise_rms(track) * rng.uniform(0.3, 0.9))
    band = np.sum(parts, axis=0)
    # A small amplifier or a busker's hall: one broad body resonance colours the whole band.
    band += 0.3 * resonators(band, [rng.uniform(200.0, 1200.0)], [rng.uniform(150.0, 400.0)], fs)
    return normalise_peak(band * ramp_envelope(n, fs, 0.02, 0.05))
