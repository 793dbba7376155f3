"""Long soundscapes: a continuous bed with events placed on it, and their ground truth.

Steps of ``generate_soundscape``:
1. a microphone and a bed of one or two of the preset's background kinds, at a base level of
   -45 to -32 dBFS RMS drifting by a couple of decibels;
2. quiet stretches (a mostly quiet street at night): 4-12 s where the bed drops by 20-30 dB,
   with 1 s ramps, about ``quiet_fraction`` of the time; no events are placed in them or on
   their ramps, so they can test a level gate;
3. events at Poisson times (``event_density_per_min``): a random class rendered like a clip's
   source (its own room and distance), scaled so its power over its audible extent is ``snr_db``
   above the bed's power over the same samples.

Labels: onset and offset are the event's audible extent (frames within 30 dB of its loudest
10 ms frame, reverberation included down to there), independent of the bed. Labelled extents
never overlap: the next onset is at least ``MIN_GAP_S`` after the previous offset; only a
reverberant tail more than 30 dB down may run on under the next event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .beds import background
from .clips import render_source
from .dsp import FloatArray, add_at, n_samples, normalise_rms, smooth_random
from .events import SoundEvent
from .scene import PEAK_LIMIT, colour, draw_microphone
from .settings import CLASSES, BackgroundKind, GeneratorSettings, Span

BED_LEVEL_DBFS = Span.of(-45.0, -32.0)
QUIET_DROP_DB = Span.of(20.0, 30.0)
QUIET_LENGTH_S = Span.of(4.0, 12.0)
QUIET_RAMP_S = 1.0
MIN_GAP_S = 0.5


@dataclass(frozen=True)
class Soundscape:
    """A soundscape, its labelled events and its quiet stretches (start_s, end_s)."""

    audio: FloatArray
    events: tuple[SoundEvent, ...]
    quiet_spans: tuple[tuple[float, float], ...]
    backgrounds: tuple[BackgroundKind, ...]
    fs: int


def _quiet_spans(
    rng: np.random.Generator, duration_s: float, fraction: float
) -> list[tuple[float, float]]:
    """Non-overlapping quiet stretches covering about ``fraction`` of the time."""
    spans: list[tuple[float, float]] = []
    target = fraction * duration_s
    covered, attempts = 0.0, 0
    while covered < target and attempts < 50:
        attempts += 1
        length = min(QUIET_LENGTH_S.sample(rng), target - covered + 2.0)
        if length < 2.0 or length + 2 * QUIET_RAMP_S > duration_s:
            break
        start = rng.uniform(QUIET_RAMP_S, duration_s - length - QUIET_RAMP_S)
        margin = 2 * QUIET_RAMP_S + MIN_GAP_S
        if all(start > end + margin or start + length < begin - margin for begin, end in spans):
            spans.append((start, start + length))
            covered += length
    return sorted(spans)


def _bed_gain_db(
    n: int, fs: int, spans: list[tuple[float, float]], drops: list[float]
) -> FloatArray:
    """Bed level offset (dB) over time: 0, and ``-drop`` inside each quiet span, with ramps."""
    times, levels = [0.0], [0.0]
    for (start, end), drop in zip(spans, drops, strict=True):
        times += [start - QUIET_RAMP_S, start, end, end + QUIET_RAMP_S]
        levels += [0.0, -drop, -drop, 0.0]
    times.append(max(n / fs, times[-1]))
    levels.append(0.0)
    return np.interp(np.arange(n) / fs, times, levels)


def generate_soundscape(
    rng: np.random.Generator,
    settings: GeneratorSettings,
    duration_s: float,
    fs: int = 16000,
    event_density_per_min: float = 6.0,
    snr_db: Span | None = None,
    quiet_fraction: float = 0.2,
    labels: Sequence[str] = CLASSES,
) -> Soundscape:
    """A soundscape of ``duration_s`` with its events (see the module docstring for the rules).

    ``snr_db`` defaults to the preset's SNR range; ``labels`` restricts the classes drawn.
    """
    if duration_s <= 0 or event_density_per_min < 0 or not 0.0 <= quiet_fraction < 1.0:
        raise ValueError("need duration > 0, event density >= 0 and 0 <= quiet fraction < 1")
    unknown = [label for label in labels if label not in CLASSES]
    if unknown or not labels:
        raise ValueError(f"labels must be a non-empty subset of the classes, not {unknown}")
    snr_span = snr_db or settings.snr_db
    n = n_samples(fs, duration_s)
    microphone = draw_microphone(rng, settings)
    bed, kinds = background(rng, settings.backgrounds, fs, n)
    spans = _quiet_spans(rng, duration_s, quiet_fraction)
    gain_db = _bed_gain_db(n, fs, spans, [QUIET_DROP_DB.sample(rng) for _ in spans])
    gain_db += BED_LEVEL_DBFS.sample(rng) + 2.0 * smooth_random(rng, n, fs, 0.05)
    # Level set after the microphone: its low cut can take much of a rumbling bed away.
    audio = normalise_rms(colour(bed, fs, microphone)) * 10.0 ** (gain_db / 20.0)
    bed_power = audio**2
    blocked = [(start - QUIET_RAMP_S, end + QUIET_RAMP_S) for start, end in spans]
    events: list[SoundEvent] = []
    mean_gap_s = 60.0 / event_density_per_min if event_density_per_min > 0 else np.inf
    time_s = 0.0
    while True:
        time_s += rng.exponential(mean_gap_s) if np.isfinite(mean_gap_s) else duration_s
        if time_s >= duration_s - 0.2:
            break
        label = labels[int(rng.integers(len(labels)))]
        source = render_source(label, rng, settings, fs, duration_s - time_s, microphone)
        start, stop = source.extent
        if stop <= start:
            continue
        length_s = (stop - start) / fs
        for begin, end in blocked:  # sorted: step past each quiet stretch it would touch
            if time_s < end and time_s + length_s > begin:
                time_s = end + MIN_GAP_S
        onset = round(time_s * fs)
        if onset + (stop - start) > n:
            break
        snr = snr_span.sample(rng)
        local_bed = float(np.mean(bed_power[onset : onset + stop - start]))
        source_power = float(np.mean(source.audio[start:stop] ** 2))
        gain = np.sqrt(local_bed * 10.0 ** (snr / 10.0) / source_power)
        add_at(audio, source.audio * gain, onset - start)
        events.append(SoundEvent(onset / fs, (onset + stop - start) / fs, label))
        time_s = events[-1].offset_s + MIN_GAP_S
    peak = float(np.max(np.abs(audio)))
    if peak > PEAK_LIMIT:
        audio *= PEAK_LIMIT / peak
    return Soundscape(audio, tuple(events), tuple(spans), kinds, fs)
