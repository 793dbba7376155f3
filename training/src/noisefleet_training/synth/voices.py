"""Voice-like sources: children playing, dog barks, and the babble that crowd beds reuse.

A voice is a source-filter model: a glottal pulse train following a pitch contour, shaped by a
spectral tilt, then a cascade of formant resonators for a vowel, plus breath and consonant
noise. Pulse trains cost O(samples) whatever the pitch, which keeps a playground of six children
well inside the per-clip time budget.
"""

from __future__ import annotations

import numpy as np

from .dsp import (
    FloatArray,
    add_at,
    bandpass,
    lowpass,
    n_samples,
    normalise_peak,
    normalise_rms,
    pulse_train,
    ramp_envelope,
    resonators,
    white,
)
from .settings import SourceRanges

# Children's vowel formants F1-F3 in Hz (Peterson & Barney 1952, children's means); adult voices
# scale them by about 0.8.
_CHILD_VOWELS: tuple[tuple[float, float, float], ...] = (
    (370, 3200, 3730),
    (530, 2730, 3600),
    (690, 2610, 3570),
    (1010, 2320, 3320),
    (1030, 1370, 3170),
    (680, 1060, 3180),
    (560, 1410, 3310),
    (430, 1170, 3260),
    (850, 1590, 3360),
    (560, 1820, 2160),
)


def voice_stream(
    rng: np.random.Generator,
    fs: int,
    n: int,
    f0: float,
    syllable_rate: float,
    excursion: float,
    formant_scale: float,
    *,
    shout_probability: float = 0.0,
    pause_s: tuple[float, float] = (0.15, 1.0),
) -> FloatArray:
    """One talker: phrases of 1-6 syllables at about ``syllable_rate``, pauses between them.

    Steps: plan the syllables (pitch arc, vowel, level, maybe a consonant burst; a phrase may
    end in a shout: a long, loud vowel at 1.4-2x the pitch); fill one pitch contour and one
    envelope for the whole stream; one glottal pulse train and spectral tilt for the stream;
    then each syllable through its own vowel's formant cascade.
    """
    contour = np.zeros(n)
    envelope = np.zeros(n)
    syllables: list[tuple[int, int, list[float]]] = []
    bursts: list[tuple[int, int]] = []
    shortest = min(0.05 * fs, n / 2)
    position = round(rng.uniform(0.0, min(0.4 * fs, n / 4)))
    while position < n - shortest:
        phrase = int(rng.integers(1, 7))
        for index in range(phrase):
            shout = index == phrase - 1 and rng.random() < shout_probability
            spacing = fs / syllable_rate
            length = round(
                rng.uniform(0.3, 1.0) * fs if shout else spacing * rng.uniform(0.5, 0.95)
            )
            length = min(length, n - position)
            if length < shortest:
                break
            u = np.linspace(0.0, 1.0, length, dtype=np.float32)
            glide, arc = rng.uniform(-1.0, 1.0), rng.uniform(-0.5, 1.0)
            pitch = f0 * rng.uniform(0.9, 1.1) * (rng.uniform(1.4, 2.0) if shout else 1.0)
            depth = excursion * (1.5 if shout else 1.0)
            segment = slice(position, position + length)
            octaves = depth * (glide * (u - 0.5) + arc * np.sin(np.float32(np.pi) * u))
            contour[segment] = pitch * np.exp2(octaves)
            level = rng.uniform(1.0, 2.0) if shout else rng.uniform(0.5, 1.0)
            envelope[segment] = level * ramp_envelope(
                length, fs, rng.uniform(0.01, 0.04), rng.uniform(0.03, 0.1)
            )
            vowel = _CHILD_VOWELS[int(rng.integers(len(_CHILD_VOWELS)))]
            formants = list(np.array(vowel) * formant_scale * rng.uniform(0.93, 1.07, 3))
            syllables.append((position, length, formants))
            if not shout and rng.random() < 0.5 and length > 0.08 * fs:
                bursts.append((position, round(rng.uniform(0.02, 0.07) * fs)))
            position += round(spacing * rng.uniform(0.9, 1.2)) if not shout else length
        position += round(rng.uniform(*pause_s) * fs)
    pulses = pulse_train(contour, fs, rng.uniform())
    glottal = lowpass(pulses, rng.uniform(400.0, 1200.0), fs, order=1)
    glottal = normalise_rms(glottal) + 0.05 * white(rng, n)
    voiced = np.zeros(n)
    for start, length, formants in syllables:
        vowel_sound = resonators(
            glottal[start : start + length], formants, [90.0, 130.0, 200.0], fs
        )
        voiced[start : start + length] = normalise_rms(vowel_sound)
    if bursts:
        hiss = bandpass(white(rng, n), rng.uniform(2500, 4500), 7000.0, fs)
        hiss = normalise_rms(hiss)
        for start, length in bursts:
            stop = min(n, start + length)
            gate = ramp_envelope(stop - start, fs, 0.005, 0.01) * rng.uniform(0.3, 0.8)
            voiced[start:stop] += hiss[start:stop] * gate
    return voiced * envelope


def children_playing(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """Several babbling children at different distances, with shouts and squeals among them."""
    n = n_samples(fs, duration_s)
    out = np.zeros(n)
    excursion = variant.modulation.sample(rng)
    for _ in range(variant.draw_count(rng)):
        stream = voice_stream(
            rng,
            fs,
            n,
            variant.pitch_hz.sample(rng),
            variant.rate_hz.sample(rng),
            excursion,
            rng.uniform(0.92, 1.08),
            shout_probability=rng.uniform(0.0, 0.4),
        )
        if rng.random() < 0.5:  # farther away: quieter and duller
            stream = lowpass(stream, rng.uniform(2000.0, 5000.0), fs)
        out += stream * rng.uniform(0.2, 1.0)
    return normalise_peak(out)


def _bark(
    rng: np.random.Generator, fs: int, length: int, f0: float, noisiness: float
) -> FloatArray:
    """One bark: a quick pitch rise then a drop, half voiced and half noise, through a muzzle."""
    u = np.linspace(0.0, 1.0, length)
    peak_at = rng.uniform(0.1, 0.3)
    start_ratio, end_ratio = rng.uniform(0.75, 0.95), rng.uniform(0.5, 0.8)
    rising = start_ratio + (1.0 - start_ratio) * u / peak_at
    falling = 1.0 - (1.0 - end_ratio) * np.clip((u - peak_at) / (1.0 - peak_at), 0.0, 1.0) ** 1.5
    contour = f0 * np.where(u < peak_at, rising, falling)
    voiced = lowpass(pulse_train(contour, fs, rng.uniform()), rng.uniform(1000, 3000), fs, 1)
    if rng.random() < 0.4:  # rough, growly bark: period doubling
        voiced *= 1.0 + 0.6 * np.sign(np.sin(np.pi * np.cumsum(contour) / fs))
    noise = bandpass(white(rng, length), 400.0, rng.uniform(3000, 6000), fs)
    excitation = (1.0 - noisiness) * normalise_rms(voiced) + noisiness * normalise_rms(noise)
    size = f0 / 600.0
    formants = [
        rng.uniform(500, 1000) * size,
        rng.uniform(1200, 2200) * size,
        rng.uniform(2500, 3500),
    ]
    bark = resonators(excitation, formants, [150.0, 220.0, 320.0], fs)
    envelope = np.exp(-u / rng.uniform(0.25, 0.5)) * ramp_envelope(
        length, fs, rng.uniform(0.004, 0.015), rng.uniform(0.01, 0.04)
    )
    return normalise_peak(bark * envelope)


def dog_bark(
    rng: np.random.Generator, fs: int, duration_s: float, variant: SourceRanges
) -> FloatArray:
    """One to six short barks (0.1-0.4 s) with pitch drops, repeated with irregular gaps."""
    n = n_samples(fs, duration_s)
    out = np.zeros(n)
    f0 = variant.pitch_hz.sample(rng)
    noisiness = variant.modulation.sample(rng)
    interval = fs / variant.rate_hz.sample(rng)
    shortest = min(0.05 * fs, n / 2)
    position = round(rng.uniform(0.0, min(0.05 * fs, n / 4)))
    for index in range(variant.draw_count(rng)):
        length = min(round(rng.uniform(0.1, 0.4) * fs), round(0.85 * interval), n - position)
        if length < shortest:
            break
        bark = _bark(rng, fs, length, f0 * rng.uniform(0.9, 1.1), noisiness)
        add_at(out, bark * (1.0 if index == 0 else rng.uniform(0.6, 1.0)), position)
        position += round(interval * rng.uniform(0.7, 1.5))
    return normalise_peak(out)
