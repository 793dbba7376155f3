"""Soundscapes from held-out real clips over real backgrounds, with Audacity label tracks.

Steps of ``write_real_soundscapes`` (TEST split only, so no model has heard any of it):
1. beds: the TEST ``ambient`` clips that are steady backgrounds (crowds, park, wind, a game
   ambience, a train), looped with 50 ms crossfades and set to ``BED_RMS_DBFS``; the impulsive
   ones (a cannon, a gong) are distractors: mixed in unlabelled, so calling them a class counts
   against a model;
2. events: every TEST event clip in turn (shuffled, fixed seed), trimmed to its active part
   (``active_span``: leading and trailing 20 ms frames more than ``TRIM_DB`` below the loudest
   are cut, so the label spans the sound, not the file), cut to at most ``MAX_EVENT_S``,
   placed without overlap at ``SNR_DB`` (event RMS over bed RMS); clips whose
   label holds only part of them (a 31 s ambience with two short sirens) are left out;
3. each soundscape is written as ``real_NNN.wav`` (16 kHz) and ``real_NNN.txt`` (onset, offset,
   label), the layout ``noisefleet-train evaluate-events`` reads.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from noisefleet_training.datasets.audacity import write_label_track
from noisefleet_training.realclips.audio import read_mono
from noisefleet_training.realclips.build import RealClip

FS = 16000
BED_RMS_DBFS = -40.0
SNR_DB = (6.0, 15.0)
MAX_EVENT_S = 6.0
GAP_S = (1.5, 4.0)
TRIM_DB = 30.0
DISTRACTOR_NOTES = ("lrgcan", "gong")
PARTIAL_LABEL_FAMILIES = ("openarena-data:nightmare",)
FloatArray = npt.NDArray[np.float64]


def _rms(x: FloatArray) -> float:
    return float(np.sqrt(np.mean(x**2))) or 1e-12


def _loop(parts: list[FloatArray], n: int, fade: int) -> FloatArray:
    out = np.zeros(0)
    ramp = np.linspace(0.0, 1.0, fade)
    i = 0
    while out.size < n + fade:
        part = parts[i % len(parts)] / _rms(parts[i % len(parts)])
        if out.size >= fade:
            out[-fade:] = out[-fade:] * ramp[::-1] + part[:fade] * ramp
            out = np.concatenate([out, part[fade:]])
        else:
            out = part.copy()
        i += 1
    return out[:n]


def active_span(x: FloatArray, fs: int = FS, trim_db: float = TRIM_DB) -> FloatArray:
    """``x`` without its leading and trailing frames quieter than ``trim_db`` below the
    loudest 20 ms frame."""
    hop = fs // 50
    frames = x[: x.size // hop * hop].reshape(-1, hop)
    if frames.shape[0] == 0:
        return x
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    active = np.flatnonzero(level >= level.max() - trim_db)
    return x[active[0] * hop : (active[-1] + 1) * hop]


def write_real_soundscapes(
    clips: list[RealClip], out: Path, count: int = 6, duration_s: float = 45.0, seed: int = 0
) -> list[Path]:
    """Write ``count`` soundscapes (see the module docstring); returns the WAV paths."""
    rng = np.random.default_rng(seed)
    test = [c for c in clips if c.split == "test"]
    beds = [
        c for c in test if c.label == "ambient" and not any(d in c.family for d in DISTRACTOR_NOTES)
    ]
    distractors = [c for c in test if c.label == "ambient" and c not in beds]
    events = [c for c in test if c.label != "ambient" and c.family not in PARTIAL_LABEL_FAMILIES]
    order = [events[i] for i in rng.permutation(len(events))]
    n = round(duration_s * FS)
    out.mkdir(parents=True, exist_ok=True)
    paths, cursor = [], 0
    for index in range(count):
        bed_clips = [read_mono(beds[i].file, FS) for i in rng.permutation(len(beds))[:3]]
        bed = _loop([b for b in bed_clips if b.size > FS // 2], n, FS // 20)
        bed *= 10 ** (BED_RMS_DBFS / 20)
        x = bed.copy()
        labels: list[tuple[float, float, str]] = []
        t = float(rng.uniform(*GAP_S))
        while True:
            clip = order[cursor % len(order)]
            sound = active_span(read_mono(clip.file, FS))[: round(MAX_EVENT_S * FS)]
            start = round(t * FS)
            if start + sound.size > n - FS:
                break
            cursor += 1
            snr = float(rng.uniform(*SNR_DB))
            gain = 10 ** ((BED_RMS_DBFS + snr) / 20) / _rms(sound)
            x[start : start + sound.size] += gain * sound
            labels.append((start / FS, (start + sound.size) / FS, clip.label))
            t = (start + sound.size) / FS + float(rng.uniform(*GAP_S))
        if distractors:
            d = read_mono(distractors[index % len(distractors)].file, FS)[: 2 * FS]
            gaps = _free_spans(labels, n / FS, d.size / FS)
            if gaps:
                at = round(gaps[int(rng.integers(len(gaps)))] * FS)
                x[at : at + d.size] += 10 ** ((BED_RMS_DBFS + 10) / 20) / _rms(d) * d
        path = out / f"real_{index:03d}.wav"
        sf.write(path, np.clip(x, -1, 1), FS, subtype="FLOAT")
        write_label_track(path.with_suffix(".txt"), labels)
        paths.append(path)
    return paths


def _free_spans(
    labels: list[tuple[float, float, str]], total_s: float, need_s: float
) -> list[float]:
    """Start times where a sound of ``need_s`` fits between labelled events."""
    edges = [(0.0, 0.0), *[(a, b) for a, b, _ in labels], (total_s, total_s)]
    starts = []
    for (_, end), (begin, _) in itertools.pairwise(edges):
        if begin - end >= need_s + 1.0:
            starts.append(end + 0.5)
    return starts
