"""Background beds: the continuous sound of a place that every clip and soundscape sits in.

Kinds (``settings.BackgroundKind``): ``traffic`` (brown rumble plus passing vehicles' tyre
noise), ``wind`` (gusty low-passed noise and leaf rustle), ``park`` (a quiet distant city,
leaves and birdsong), ``rain`` (crackle of drops over hiss) and ``crowd`` (a murmur of voiced
talkers over speech-shaped noise). Each bed has unit RMS; ``background`` mixes one or two kinds.
Envelopes are computed at a 1/64 control rate and interpolated, so long soundscapes stay cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .dsp import (
    FloatArray,
    bandpass,
    coloured_noise,
    highpass,
    lowpass,
    normalise_rms,
    phase_of,
    pulse_train,
    resonators,
    smooth_random,
    white,
)
from .settings import BackgroundKind

_CONTROL_STEP = 64


def _bumps(
    rng: np.random.Generator,
    n: int,
    fs: int,
    rate_hz: float,
    width_s: tuple[float, float],
    height: tuple[float, float],
) -> FloatArray:
    """Sum of Gaussian bumps at Poisson times (vehicles passing, gusts), control rate."""
    times = np.arange(0, n + _CONTROL_STEP, _CONTROL_STEP) / fs
    margin = 2.0 * width_s[1]
    count = rng.poisson(rate_hz * (n / fs + 2 * margin))
    centres = rng.uniform(-margin, n / fs + margin, count)
    widths = rng.uniform(*width_s, count)
    heights = rng.uniform(*height, count)
    curve = np.zeros(times.size)
    for centre, width, level in zip(centres, widths, heights, strict=True):
        near = np.abs(times - centre) < 4 * width
        curve[near] += level * np.exp(-(((times[near] - centre) / width) ** 2))
    return np.interp(np.arange(n) / fs, times, curve)


def traffic(rng: np.random.Generator, fs: int, n: int) -> FloatArray:
    """Distant rumble (brown noise under a few hundred hertz) and vehicles passing by."""
    rumble = normalise_rms(lowpass(coloured_noise(rng, n, rng.uniform(1.5, 2.0)), 400.0, fs))
    passes = rng.uniform(0.1, 0.6)
    envelope = rng.uniform(0.2, 0.6) + _bumps(rng, n, fs, passes, (0.8, 3.0), (0.5, 2.0))
    tyres = bandpass(white(rng, n), rng.uniform(300.0, 800.0), rng.uniform(1500.0, 4000.0), fs)
    return normalise_rms(rumble * rng.uniform(0.5, 1.5) + normalise_rms(tyres) * envelope)


def wind(rng: np.random.Generator, fs: int, n: int) -> FloatArray:
    """Gusts of low-passed noise with leaves rustling on the strongest ones."""
    gusts = np.exp(rng.uniform(0.5, 1.5) * smooth_random(rng, n, fs, rng.uniform(0.2, 1.5)))
    body = lowpass(coloured_noise(rng, n, 1.0), rng.uniform(150.0, 500.0), fs) * gusts
    rustle = highpass(white(rng, n), rng.uniform(1500.0, 3000.0), fs) * gusts**2
    return normalise_rms(normalise_rms(body) + rng.uniform(0.05, 0.3) * normalise_rms(rustle))


def park(rng: np.random.Generator, fs: int, n: int) -> FloatArray:
    """A quiet park: a far-off city hum, leaves, and birds chirping now and then."""
    city = lowpass(coloured_noise(rng, n, 1.5), rng.uniform(300.0, 800.0), fs)
    leaves = highpass(white(rng, n), 2000.0, fs) * (1.2 + smooth_random(rng, n, fs, 0.5))
    bed = normalise_rms(city) + rng.uniform(0.05, 0.3) * normalise_rms(leaves)
    birds = np.zeros(n)
    for _ in range(rng.poisson(rng.uniform(0.3, 2.5) * n / fs)):
        length = round(rng.uniform(0.04, 0.25) * fs)
        start = int(rng.integers(0, max(1, n - length)))
        sweep = np.linspace(rng.uniform(2000, 6000), rng.uniform(2000, 6500), length)
        chirp = np.sin(phase_of(sweep, fs).astype(np.float32)) * np.hanning(length)
        birds[start : start + length] += chirp[: n - start] * rng.uniform(0.5, 2.0)
    return normalise_rms(bed + birds * rng.uniform(0.3, 1.0))


def rain(rng: np.random.Generator, fs: int, n: int) -> FloatArray:
    """Crackle of drops (sparse random impulses, band-limited) over hiss and a low roar."""
    drops = rng.poisson(rng.uniform(300.0, 3000.0) * n / fs)
    # Heavy-tailed drop sizes, capped: one drop on the microphone must not set the clip's peak.
    weights = np.minimum(rng.pareto(2.5, drops), 8.0) * rng.choice([-1.0, 1.0], drops)
    impulses = np.bincount(rng.integers(0, n, drops), weights, minlength=n).astype(np.float64)
    crackle = bandpass(impulses, rng.uniform(1000.0, 3000.0), rng.uniform(5000.0, 7000.0), fs)
    hiss = highpass(coloured_noise(rng, n, 0.5), rng.uniform(1000.0, 3000.0), fs)
    roar = lowpass(coloured_noise(rng, n, 1.5), 400.0, fs)
    return normalise_rms(
        normalise_rms(crackle)
        + rng.uniform(0.2, 1.0) * normalise_rms(hiss)
        + rng.uniform(0.1, 0.5) * normalise_rms(roar)
    )


def crowd(rng: np.random.Generator, fs: int, n: int) -> FloatArray:
    """Murmur: voiced adult talkers with syllabic rhythm over speech-shaped noise.

    The talkers' pulse trains are gated by their own syllable rhythms and then share one
    vocal-tract filter: in a murmur no single voice is followed, and one filter pass is cheap.
    """
    pulses = np.zeros(n)
    for _ in range(int(rng.integers(3, 8))):
        f0 = rng.uniform(90.0, 230.0) * (1.0 + 0.15 * smooth_random(rng, n, fs, 3.0))
        syllables = np.maximum(smooth_random(rng, n, fs, rng.uniform(3.0, 6.0)) + 0.2, 0.0)
        pulses += pulse_train(f0, fs, rng.uniform()) * syllables * rng.uniform(0.3, 1.0)
    voiced = lowpass(pulses, rng.uniform(300.0, 800.0), fs, 1)
    formants = [rng.uniform(450, 800), rng.uniform(1100, 1900), rng.uniform(2300, 2900)]
    voiced = resonators(voiced, formants, [200.0, 300.0, 400.0], fs)
    babble = bandpass(coloured_noise(rng, n, 1.0), 200.0, 3500.0, fs)
    babble *= 1.0 + 0.3 * smooth_random(rng, n, fs, 4.0)
    murmur = normalise_rms(voiced) + rng.uniform(0.3, 1.5) * normalise_rms(babble)
    return normalise_rms(lowpass(murmur, rng.uniform(2000.0, 4000.0), fs))


BEDS: dict[BackgroundKind, Callable[[np.random.Generator, int, int], FloatArray]] = {
    "traffic": traffic,
    "wind": wind,
    "park": park,
    "rain": rain,
    "crowd": crowd,
}


def background(
    rng: np.random.Generator, kinds: Sequence[BackgroundKind], fs: int, n: int
) -> tuple[FloatArray, tuple[BackgroundKind, ...]]:
    """A unit-RMS bed of one kind (70 %) or two mixed kinds, and the kinds used."""
    count = 2 if len(kinds) > 1 and rng.random() < 0.3 else 1
    chosen = tuple(kinds[int(i)] for i in rng.choice(len(kinds), size=count, replace=False))
    bed = np.zeros(n)
    for index, kind in enumerate(chosen):
        bed += BEDS[kind](rng, fs, n) * (1.0 if index == 0 else rng.uniform(0.2, 0.8))
    return normalise_rms(bed), chosen
