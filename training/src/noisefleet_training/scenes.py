"""Training windows for sound event detection: events in beds, labelled per window, and ``ambient``.

A clip classifier learns "this 4 s clip holds a dog bark" and labels every window of the clip
so; a detector slides over hours of background, where most windows hold no event at all. This
module builds what a detector needs from the synthetic generator, in memory:

1. event clips (``synth.render_clip``): each window gets the clip's class when it holds enough
   of the event's audible extent (``event_covers_window``), ``ambient`` when it holds (almost)
   none of it, and is left out in between (a half-covered window is neither);
2. ambient clips, no source: every other one a bed of the preset's background kinds
   (``synth.render_ambient``), the others generic noise (``generic_bed``: coloured noise with
   a random spectral shape and slow level changes), so ``ambient`` means "no event" rather than
   "one of the three training beds";
3. soundscapes (``synth.generate_soundscape``): events at Poisson times on a drifting bed with
   quiet stretches, at the SNR range asked for, labelled per window from the event times.

Folds follow the UrbanSound8K convention of ``synth.generate_dataset``: item i of every kind
goes to fold i mod 10 + 1, so the test and validation folds hold every class. Random streams
come from ``synth.clip_rng`` with their own keys, so every item can be regenerated alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from noisefleet_core.features.logmel import FeatureParams, LogMelFrontend
from noisefleet_training.features import FloatArray, IntArray, WindowSet, clip_windows
from noisefleet_training.synth import (
    CLASSES,
    GeneratorSettings,
    Span,
    clip_rng,
    generate_soundscape,
    render_ambient,
    render_clip,
)
from noisefleet_training.synth.dsp import FloatArray as AudioArray
from noisefleet_training.synth.dsp import bandpass, coloured_noise, normalise_rms, smooth_random
from noisefleet_training.synth.scene import PEAK_LIMIT, colour, draw_microphone

AMBIENT_LABEL = "ambient"
"""The non-event class: background only. Not ``background`` or ``unknown``, which the detector
reserves for energy attribution and loud unexplained sound."""
LABELS: tuple[str, ...] = (*CLASSES, AMBIENT_LABEL)
FOLDS = 10
AMBIENT_KEY = len(CLASSES)
"""``clip_rng`` key of ambient clips (event clips use their class id)."""
SOUNDSCAPE_KEY = 2000
MIN_COVER_S = 0.5
"""A window holding this much of an event (or half of a shorter event) is labelled with it."""
MAX_AMBIENT_COVER_S = 0.05
"""A window holding at most this much of any event is ``ambient``."""
IGNORE = -1
SOUNDSCAPE_SNR_DB = Span.of(0.0, 20.0)
"""SNR of soundscape events: the preset's low end (3 dB) extended to 0 dB, where detection
still has to work; the source and scene ranges stay the TRAIN preset's."""


def _fold(index: int) -> int:
    return index % FOLDS + 1


def window_spans(n_windows: int, params: FeatureParams) -> npt.NDArray[np.float64]:
    """(n_windows, 2) start and end (s) of each analysis window of a signal."""
    fs = params.sample_rate_hz
    starts = np.arange(n_windows) * params.window_hop_samples / fs
    return np.stack([starts, starts + params.window_samples / fs], axis=1)


def window_targets(
    spans: npt.NDArray[np.float64],
    events: Sequence[tuple[float, float, int]],
    ambient: int,
) -> IntArray:
    """Each window's target: the class of an event it covers enough of, ``ambient`` when it
    holds (almost) no event, ``IGNORE`` when it is ambiguous (partly covered, or two classes)."""
    targets = np.full(spans.shape[0], ambient, dtype=np.int64)
    for i, (start, end) in enumerate(spans):
        covered: list[int] = []
        partial = False
        for onset, offset, label in events:
            overlap = min(end, offset) - max(start, onset)
            if overlap >= min(MIN_COVER_S, 0.5 * (offset - onset)):
                covered.append(label)
            elif overlap > MAX_AMBIENT_COVER_S:
                partial = True
        if len(set(covered)) == 1:
            targets[i] = covered[0]
        elif covered or partial:
            targets[i] = IGNORE
    return targets


@dataclass(frozen=True)
class _Item:
    """One clip or soundscape as windows: its fold, features, window targets and clip label."""

    fold: int
    x: FloatArray
    y: IntArray
    clip_label: int


def _event_clip(
    settings: GeneratorSettings,
    seed: int,
    params: FeatureParams,
    class_id: int,
    index: int,
    duration_s: float,
) -> _Item:
    fs = params.sample_rate_hz
    clip = render_clip(
        CLASSES[class_id], clip_rng(seed, settings, class_id, index), settings, fs, duration_s
    )
    x = clip_windows(clip.audio, LogMelFrontend(params))
    y = window_targets(
        window_spans(x.shape[0], params), [(clip.onset_s, clip.offset_s, class_id)], AMBIENT_KEY
    )
    return _Item(_fold(index), x, y, class_id)


def generic_bed(rng: np.random.Generator, fs: int, n: int) -> AudioArray:
    """Unit-RMS generic noise: a random spectral slope (blue to brown), one to three random
    bands lifted, and a slow random level change of up to +-50 %."""
    noise = coloured_noise(rng, n, rng.uniform(-0.5, 2.0))
    shaped = noise.copy()
    for _ in range(int(rng.integers(1, 4))):
        low = float(np.exp(rng.uniform(np.log(60.0), np.log(5000.0))))
        high = min(low * rng.uniform(1.5, 4.0), 0.45 * fs)
        shaped += rng.uniform(0.5, 3.0) * normalise_rms(bandpass(noise, low, high, fs))
    shaped *= 1.0 + rng.uniform(0.0, 0.5) * smooth_random(rng, n, fs, rng.uniform(0.2, 2.0))
    return normalise_rms(shaped)


def render_generic_ambient(
    rng: np.random.Generator, settings: GeneratorSettings, fs: int, duration_s: float
) -> AudioArray:
    """``generic_bed`` through a drawn microphone, at a drawn clip level (peak <= 0.98)."""
    n = max(1, round(duration_s * fs))
    microphone = draw_microphone(rng, settings)
    bed = colour(generic_bed(rng, fs, n), fs, microphone)
    rms = float(np.sqrt(np.mean(bed**2)))
    peak = float(np.max(np.abs(bed)))
    if rms == 0 or peak == 0:
        return bed
    gain = min(10.0 ** (settings.level_dbfs.sample(rng) / 20.0) / rms, PEAK_LIMIT / peak)
    return np.asarray(bed * gain, dtype=np.float64)


def _ambient_clip(
    settings: GeneratorSettings,
    seed: int,
    params: FeatureParams,
    index: int,
    duration_s: float,
    generic: bool,
) -> _Item:
    rng = clip_rng(seed, settings, AMBIENT_KEY, index)
    render = render_generic_ambient if generic and index % 2 == 1 else render_ambient
    audio = render(rng, settings, params.sample_rate_hz, duration_s)
    x = clip_windows(audio, LogMelFrontend(params))
    return _Item(_fold(index), x, np.full(x.shape[0], AMBIENT_KEY, dtype=np.int64), AMBIENT_KEY)


def _soundscape(
    settings: GeneratorSettings,
    seed: int,
    params: FeatureParams,
    index: int,
    duration_s: float,
    snr_db: Span,
    density_per_min: float,
) -> _Item:
    scape = generate_soundscape(
        clip_rng(seed, settings, SOUNDSCAPE_KEY, index),
        settings,
        duration_s,
        params.sample_rate_hz,
        density_per_min,
        snr_db=snr_db,
    )
    x = clip_windows(scape.audio, LogMelFrontend(params))
    events = [(e.onset_s, e.offset_s, CLASSES.index(e.label)) for e in scape.events]
    y = window_targets(window_spans(x.shape[0], params), events, AMBIENT_KEY)
    return _Item(_fold(index), x, y, AMBIENT_KEY)


def _run(job: tuple[Callable[..., _Item], tuple[object, ...]]) -> _Item:
    function, arguments = job
    return function(*arguments)


@dataclass(frozen=True)
class SceneCorpus:
    """What to generate; every count is per fold-cycled index (see the module docstring)."""

    settings: GeneratorSettings
    seed: int
    clips_per_class: int
    ambient_clips: int
    clip_seconds: float = 4.0
    soundscapes: int = 0
    soundscape_seconds: float = 60.0
    soundscape_snr_db: Span = SOUNDSCAPE_SNR_DB
    soundscape_density_per_min: float = 8.0
    generic_ambient: bool = True
    """Every other ambient clip is generic noise (``generic_bed``) instead of a preset bed."""


def corpus_items(corpus: SceneCorpus, params: FeatureParams, workers: int = 1) -> list[_Item]:
    """Every item of the corpus, in a fixed order (identical for any number of workers)."""
    s, seed = corpus.settings, corpus.seed
    jobs: list[tuple[Callable[..., _Item], tuple[object, ...]]] = [
        (_event_clip, (s, seed, params, class_id, index, corpus.clip_seconds))
        for index in range(corpus.clips_per_class)
        for class_id in range(len(CLASSES))
    ]
    jobs += [
        (_ambient_clip, (s, seed, params, index, corpus.clip_seconds, corpus.generic_ambient))
        for index in range(corpus.ambient_clips)
    ]
    jobs += [
        (
            _soundscape,
            (
                s,
                seed,
                params,
                index,
                corpus.soundscape_seconds,
                corpus.soundscape_snr_db,
                corpus.soundscape_density_per_min,
            ),
        )
        for index in range(corpus.soundscapes)
    ]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_run, jobs, chunksize=4))
    return [_run(job) for job in jobs]


def items_windows(
    items: Sequence[_Item], params: FeatureParams, folds: Sequence[int], clip_offset: int = 0
) -> WindowSet:
    """The windows of the items in ``folds`` (ambiguous windows left out) as one set."""
    xs: list[FloatArray] = []
    ys: list[IntArray] = []
    clips: list[IntArray] = []
    clip_ys: list[IntArray] = []
    for number, item in enumerate(items):
        if item.fold not in folds:
            continue
        keep = item.y != IGNORE
        xs.append(item.x[keep])
        ys.append(item.y[keep])
        clips.append(np.full(int(keep.sum()), clip_offset + number, dtype=np.int64))
        clip_ys.append(np.full(int(keep.sum()), item.clip_label, dtype=np.int64))
    empty = np.empty((0, params.window_frames, params.n_mels), dtype=np.float32)
    none = np.empty(0, dtype=np.int64)
    return WindowSet(
        np.concatenate(xs).astype(np.float32) if xs else empty,
        np.concatenate(ys) if ys else none,
        np.concatenate(clips) if clips else none,
        LABELS,
        np.concatenate(clip_ys) if clip_ys else none,
        (AMBIENT_LABEL,),
    )
