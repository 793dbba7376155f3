"""Labelled clips: one source in its scene, over a background bed, at a realistic level.

Steps of ``render_clip``:
1. draw the microphone, then the source: its length from the class's ``event_s`` (capped at
   the clip), its sound from ``sources``, a room, a distance, and propagate it (``scene``);
2. place it at a random offset (the part of the clip it does not fill is background only) and
   find its audible extent: that is the label's onset and offset;
3. draw a bed of the preset's background kinds, colour it by the same microphone;
4. mix at a drawn SNR and scale to a drawn RMS level, the peak kept at or below 0.98.

``render_ambient`` draws a clip of background only (a bed coloured by a microphone, at a drawn
level): what "no event" sounds like, for a model's non-event class.

All of it is a pure function of ``(label, rng, settings, fs, duration_s)``. ``clip_rng`` gives
each clip of a data set its own reproducible stream, so any clip can be regenerated alone.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .beds import background
from .dsp import FloatArray, add_at, audible_extent, n_samples
from .scene import (
    PEAK_LIMIT,
    Microphone,
    Room,
    colour,
    draw_microphone,
    draw_room,
    impulse_response,
    mix_clip,
    propagate,
)
from .settings import CLASSES, BackgroundKind, GeneratorSettings
from .sources import generate_source


@dataclass(frozen=True)
class RenderedSource:
    """A source as recorded (room and microphone included), before any level is set."""

    label: str
    audio: FloatArray
    extent: tuple[int, int]
    """Audible samples: first and one past the last (see ``dsp.audible_extent``)."""
    room: Room
    distance_m: float


@dataclass(frozen=True)
class RenderedClip:
    """A clip, its parts and everything drawn for it (the ground truth a test can check)."""

    label: str
    audio: FloatArray
    source: FloatArray
    bed: FloatArray
    fs: int
    onset_s: float
    offset_s: float
    snr_db: float
    level_dbfs: float
    room: Room
    distance_m: float
    backgrounds: tuple[BackgroundKind, ...]
    microphone: Microphone


def clip_rng(seed: int, settings: GeneratorSettings, *key: int) -> np.random.Generator:
    """The random stream of one item (e.g. class id and index) of a preset's data set.

    The preset name salts the seed: the same seed never reuses noise between presets.
    """
    salt = zlib.crc32(settings.name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([seed, salt, *key]))


def render_source(
    label: str,
    rng: np.random.Generator,
    settings: GeneratorSettings,
    fs: int,
    max_duration_s: float,
    microphone: Microphone | None = None,
) -> RenderedSource:
    """Draw and render one source of ``label`` as heard at the microphone."""
    ranges = settings.source(label)
    duration_s = min(ranges.event_s.sample(rng), max_duration_s)
    dry = generate_source(label, rng, fs, duration_s, ranges)
    room = draw_room(rng, settings)
    distance_m = settings.distance_m.sample(rng)
    wet = propagate(dry, fs, distance_m, room, impulse_response(rng, room, fs), microphone)
    return RenderedSource(label, wet, audible_extent(wet, fs), room, distance_m)


def render_clip(
    label: str,
    rng: np.random.Generator,
    settings: GeneratorSettings,
    fs: int = 16000,
    duration_s: float = 4.0,
) -> RenderedClip:
    """A labelled clip of ``duration_s`` with its parts and drawn parameters."""
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}; classes: {', '.join(CLASSES)}")
    if fs < 8000 or duration_s <= 0:
        raise ValueError("need fs >= 8000 Hz and a positive duration")
    n = n_samples(fs, duration_s)
    microphone = draw_microphone(rng, settings)
    rendered = render_source(label, rng, settings, fs, duration_s, microphone)
    start, stop = rendered.extent
    # Anywhere its audible part fits in the clip (one longer than the clip starts with it).
    offset = int(rng.integers(-start, max(-start, n - stop) + 1))
    placed = np.zeros(n)
    add_at(placed, rendered.audio, offset)
    extent = audible_extent(placed, fs)
    bed, kinds = background(rng, settings.backgrounds, fs, n)
    mix = mix_clip(
        placed,
        colour(bed, fs, microphone),
        settings.snr_db.sample(rng),
        settings.level_dbfs.sample(rng),
        extent,
    )
    return RenderedClip(
        label=label,
        audio=mix.audio,
        source=mix.source,
        bed=mix.bed,
        fs=fs,
        onset_s=extent[0] / fs,
        offset_s=extent[1] / fs,
        snr_db=mix.snr_db,
        level_dbfs=mix.level_dbfs,
        room=rendered.room,
        distance_m=rendered.distance_m,
        backgrounds=kinds,
        microphone=microphone,
    )


def render_ambient(
    rng: np.random.Generator,
    settings: GeneratorSettings,
    fs: int = 16000,
    duration_s: float = 4.0,
) -> FloatArray:
    """A clip of the preset's background beds only, at a drawn RMS level (peak <= 0.98)."""
    if fs < 8000 or duration_s <= 0:
        raise ValueError("need fs >= 8000 Hz and a positive duration")
    n = n_samples(fs, duration_s)
    microphone = draw_microphone(rng, settings)
    bed, _ = background(rng, settings.backgrounds, fs, n)
    coloured = colour(bed, fs, microphone)
    rms = float(np.sqrt(np.mean(coloured**2)))
    peak = float(np.max(np.abs(coloured)))
    if rms == 0 or peak == 0:
        return coloured
    gain = min(10.0 ** (settings.level_dbfs.sample(rng) / 20.0) / rms, PEAK_LIMIT / peak)
    return np.asarray(coloured * gain, dtype=np.float64)


def generate_clip(
    label: str,
    rng: np.random.Generator,
    settings: GeneratorSettings,
    fs: int = 16000,
    duration_s: float = 4.0,
) -> FloatArray:
    """A labelled clip: float64 mono, ``round(duration_s * fs)`` samples, peak <= 0.98."""
    return render_clip(label, rng, settings, fs, duration_s).audio
