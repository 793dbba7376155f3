"""Writing what the generator makes: UrbanSound8K-layout data sets, soundscapes, label tracks.

The only module of the generator that touches files. ``generate_dataset`` writes

    OUT/audio/fold{k}/{fsID}-{classID}-0-0.wav
    OUT/metadata/UrbanSound8K.csv       (the real columns, so UrbanSound8K loaders read it)
    OUT/metadata/synth_parameters.csv   (what was drawn for each clip: SNR, room, bed...)

with folds assigned round-robin per class (clip i of every class goes to fold i mod folds + 1),
so every fold holds every class. ``start``/``end`` are the source's audible extent within the
clip, ``salience`` is 1 (foreground) when its SNR is at least 10 dB, else 2 (background).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf

from noisefleet_training.datasets.audacity import write_label_track

from .clips import clip_rng, render_clip
from .dsp import FloatArray
from .events import SoundEvent
from .settings import CLASSES, GeneratorSettings
from .soundscape import Soundscape, generate_soundscape

URBANSOUND8K_COLUMNS = (
    "slice_file_name",
    "fsID",
    "start",
    "end",
    "salience",
    "fold",
    "classID",
    "class",
)
PARAMETER_COLUMNS = (
    "slice_file_name",
    "preset",
    "seed",
    "snr_db",
    "level_dbfs",
    "room",
    "rt60_s",
    "distance_m",
    "backgrounds",
    "mic_tilt_db_per_octave",
    "mic_lowcut_hz",
)
FOREGROUND_SNR_DB = 10.0


def write_wav(path: Path, audio: FloatArray, fs: int, subtype: str = "PCM_16") -> None:
    """Write mono audio (16-bit PCM by default, like UrbanSound8K's files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, fs, subtype=subtype)


def _render_and_write(
    out_dir: Path,
    settings: GeneratorSettings,
    seed: int,
    class_id: int,
    index: int,
    folds: int,
    clips_per_class: int,
    fs: int,
    duration_s: float,
) -> tuple[list[str], list[str]]:
    """One clip: render, write its WAV, return its metadata and parameter rows."""
    clip = render_clip(
        CLASSES[class_id], clip_rng(seed, settings, class_id, index), settings, fs, duration_s
    )
    fold = index % folds + 1
    fs_id = class_id * clips_per_class + index + 1
    name = f"{fs_id}-{class_id}-0-0.wav"
    write_wav(out_dir / "audio" / f"fold{fold}" / name, clip.audio, fs)
    salience = 1 if clip.snr_db >= FOREGROUND_SNR_DB else 2
    meta = [name, str(fs_id), f"{clip.onset_s:.6f}", f"{clip.offset_s:.6f}", str(salience)]
    meta += [str(fold), str(class_id), clip.label]
    params = [
        name,
        settings.name,
        str(seed),
        f"{clip.snr_db:.2f}",
        f"{clip.level_dbfs:.2f}",
        clip.room.kind,
        f"{clip.room.rt60_s:.3f}",
        f"{clip.distance_m:.2f}",
        "+".join(clip.backgrounds),
        f"{clip.microphone.tilt_db_per_octave:.2f}",
        f"{clip.microphone.lowcut_hz:.1f}",
    ]
    return meta, params


def _write_csv(path: Path, header: Iterable[str], rows: Iterable[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def generate_dataset(
    out_dir: Path | str,
    settings: GeneratorSettings,
    clips_per_class: int,
    seed: int,
    fs: int = 16000,
    folds: int = 10,
    duration_s: float = 4.0,
    workers: int = 1,
) -> Path:
    """Write a synthetic data set in the UrbanSound8K layout; returns the metadata CSV's path.

    Every clip has its own random stream (``clips.clip_rng``), so the output is identical for
    any number of ``workers`` (processes).
    """
    if clips_per_class < 1 or folds < 1:
        raise ValueError("clips per class and folds must be at least 1")
    if clips_per_class < folds:
        raise ValueError(
            f"{clips_per_class} clips per class cannot put every class in each of {folds} folds:"
            " use at least as many clips per class as folds"
        )
    out = Path(out_dir)
    jobs = [
        (out, settings, seed, class_id, index, folds, clips_per_class, fs, duration_s)
        for index in range(clips_per_class)
        for class_id in range(len(CLASSES))
    ]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_render_and_write, *zip(*jobs, strict=True), chunksize=8))
    else:
        results = [_render_and_write(*job) for job in jobs]
    meta_path = out / "metadata" / "UrbanSound8K.csv"
    _write_csv(meta_path, URBANSOUND8K_COLUMNS, (meta for meta, _ in results))
    _write_csv(
        out / "metadata" / "synth_parameters.csv", PARAMETER_COLUMNS, (p for _, p in results)
    )
    return meta_path


def write_labels(path: Path, events: Iterable[SoundEvent]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_label_track(path, ((e.onset_s, e.offset_s, e.label) for e in events))


def write_soundscape(
    path_wav: Path | str,
    path_txt: Path | str,
    audio: FloatArray,
    events: Iterable[SoundEvent],
    fs: int,
    subtype: str = "PCM_16",
) -> None:
    """Write a soundscape's audio and its Audacity label track."""
    write_wav(Path(path_wav), audio, fs, subtype)
    write_labels(Path(path_txt), events)


def generate_soundscapes(
    out_dir: Path | str,
    settings: GeneratorSettings,
    count: int,
    seed: int,
    duration_s: float = 60.0,
    fs: int = 16000,
    event_density_per_min: float = 6.0,
) -> list[Path]:
    """Write ``count`` soundscapes as ``soundscape_{i}.wav`` with ``.txt`` event labels and
    ``.quiet.txt`` labels (label ``quiet``) for the quiet stretches; returns the WAV paths."""
    if count < 1:
        raise ValueError("count must be at least 1")
    out = Path(out_dir)
    paths = []
    for index in range(count):
        scape: Soundscape = generate_soundscape(
            clip_rng(seed, settings, 1000, index), settings, duration_s, fs, event_density_per_min
        )
        stem = out / f"soundscape_{index:03d}"
        write_soundscape(
            stem.with_suffix(".wav"), stem.with_suffix(".txt"), scape.audio, scape.events, fs
        )
        quiet = [SoundEvent(start, end, "quiet") for start, end in scape.quiet_spans]
        write_labels(out / f"{stem.name}.quiet.txt", quiet)
        paths.append(stem.with_suffix(".wav"))
    return paths


def default_workers() -> int:
    """Processes to use when asked for "all": the CPUs this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
