"""The evaluation folder: recordings with their same-stem Audacity label tracks.

``DIR/X.wav`` (or .flac/.ogg) is scored against ``DIR/X.txt``; the generator's
``X.quiet.txt`` tracks (quiet stretches, not events) never pair with a recording, since their
stem is ``X.quiet``. Recordings without a label track are left out and counted. Only the top
level of the folder is read, in name order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from noisefleet_training.datasets.audacity import read_label_track
from noisefleet_training.datasets.base import (
    AUDIO_SUFFIXES,
    DatasetError,
    audio_duration_s,
    require_directory,
)
from noisefleet_training.sed.metrics import Event

LABEL_SUFFIX = ".txt"


@dataclass(frozen=True)
class LabelledRecording:
    name: str
    """The recording's file name: the key of its events in the metrics."""
    audio_path: Path
    duration_s: float
    events: tuple[Event, ...]
    """Reference events; point labels (onset == offset) are left out: nothing to detect."""


@dataclass(frozen=True)
class EvaluationSet:
    root: Path
    recordings: tuple[LabelledRecording, ...]
    unlabelled: int
    """Recordings in the folder without a label track (not scored)."""


def load_evaluation_set(root: str | os.PathLike[str]) -> EvaluationSet:
    """Pair and read the folder; ``DatasetError`` (one line, naming the file) when unusable."""
    folder = require_directory(root)
    audio = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    )
    recordings = []
    unlabelled = 0
    for path in audio:
        track = path.with_suffix(LABEL_SUFFIX)
        if not track.is_file():
            unlabelled += 1
            continue
        events = tuple(
            Event(e.start_s, e.end_s, e.label)
            for e in read_label_track(track)
            if e.end_s > e.start_s
        )
        recordings.append(LabelledRecording(path.name, path, audio_duration_s(path), events))
    if not recordings:
        raise DatasetError(
            f"{folder}: no recording with a label track (expected X.wav next to its labels X.txt)"
        )
    return EvaluationSet(folder, tuple(recordings), unlabelled)
