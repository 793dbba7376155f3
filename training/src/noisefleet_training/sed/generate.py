"""Synthetic evaluation folders: soundscapes at a chosen SNR range, with their label tracks.

``synth.generate_soundscapes`` always uses the preset's SNR range; an evaluation may ask for
another (e.g. 0–20 dB), so this writes the same layout (``soundscape_NNN.wav`` + ``.txt`` +
``.quiet.txt``) through ``synth.generate_soundscape`` with ``snr_db`` set. Seeds follow
``generate_soundscapes`` (``clip_rng(seed, settings, 1000, index)``).
"""

from __future__ import annotations

import os
from pathlib import Path

from noisefleet_training.synth import (
    GeneratorSettings,
    SoundEvent,
    Span,
    clip_rng,
    generate_soundscape,
    write_soundscape,
)
from noisefleet_training.synth.files import write_labels

EVALUATION_SNR_DB = Span.of(0.0, 20.0)


def write_evaluation_soundscapes(
    out_dir: str | os.PathLike[str],
    settings: GeneratorSettings,
    count: int,
    seed: int,
    duration_s: float = 60.0,
    snr_db: Span = EVALUATION_SNR_DB,
    fs: int = 16000,
    event_density_per_min: float = 6.0,
    quiet_fraction: float = 0.2,
) -> list[Path]:
    """Write ``count`` soundscapes into ``out_dir`` (created); returns the WAV paths."""
    if count < 1:
        raise ValueError("count must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        scape = generate_soundscape(
            clip_rng(seed, settings, 1000, index),
            settings,
            duration_s,
            fs,
            event_density_per_min,
            snr_db=snr_db,
            quiet_fraction=quiet_fraction,
        )
        stem = out / f"soundscape_{index:03d}"
        write_soundscape(
            stem.with_suffix(".wav"), stem.with_suffix(".txt"), scape.audio, scape.events, fs
        )
        quiet = [SoundEvent(start, end, "quiet") for start, end in scape.quiet_spans]
        write_labels(out / f"{stem.name}.quiet.txt", quiet)
        paths.append(stem.with_suffix(".wav"))
    return paths
