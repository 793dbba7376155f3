"""What every dataset loader returns, and the one way training reads a segment's audio.

A loader turns a layout on disk into a ``Dataset``: the label list, the labelled segments (a whole
clip, or a stretch of a longer recording) and the folds they belong to. Folds, not random splits
of analysis windows, are the unit of evaluation: windows cut from one recording are nearly
identical, so a random split puts the same sound on both sides and reports accuracy the model
does not have.

``load_audio`` reads one segment for training:
1. open the file and turn the segment's span into frames at the file's own rate;
2. read only those frames (a label over an hour-long recording reads seconds, not the hour);
3. mix down to mono by the mean of the channels;
4. resample to the classifier's rate with a polyphase filter (``resample``).

Every problem with the input becomes a ``DatasetError`` whose message is one line naming the file
and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from noisefleet_core.features.resample import resample as shared_resample

AudioArray = npt.NDArray[np.float32]

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg"})
"""Suffixes (compared in lower case) of the recordings the folder and Audacity loaders pick up."""

"""Largest down factor of the rational resampling ratio; exact for every common audio rate."""


class DatasetError(ValueError):
    """A dataset on disk cannot be used; the one-line message names the file and the problem."""


def one_line(text: object) -> str:
    """Collapse a foreign message (libsndfile's may span lines) into one line."""
    return " ".join(str(text).split())


@dataclass(frozen=True)
class LabelledSegment:
    """One labelled piece of audio: a whole clip, or a stretch of a longer recording."""

    path: Path
    label: str
    fold: int | None
    """Cross-validation fold; None only for a segment not yet assigned to one."""
    start_s: float = 0.0
    """Where the labelled stretch starts in the file."""
    end_s: float | None = None
    """Where it ends; None for the end of the file."""

    def __post_init__(self) -> None:
        if not self.label:
            raise DatasetError(f"{self.path}: empty label")
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise DatasetError(f"{self.path}: segment start {self.start_s} s is not a time >= 0")
        if self.end_s is not None and not (math.isfinite(self.end_s) and self.end_s > self.start_s):
            raise DatasetError(
                f"{self.path}: segment end {self.end_s} s is not after its start {self.start_s} s"
            )

    @property
    def duration_s(self) -> float | None:
        """Length of the labelled stretch, or None when it runs to the end of the file."""
        return None if self.end_s is None else self.end_s - self.start_s


@dataclass(frozen=True, repr=False)
class Dataset:
    """Labelled segments with their label list and cross-validation folds.

    ``labels`` fixes the class indices a model is trained with (official order where the dataset
    has one, sorted otherwise); ``split`` keeps the full list on both sides so index k means the
    same class in every fold. ``folds`` lists the folds that hold segments, in increasing order.
    """

    name: str
    labels: tuple[str, ...]
    segments: tuple[LabelledSegment, ...]
    folds: tuple[int, ...]
    skipped: tuple[str, ...] = ()
    """One line per kind of input the loader left out on purpose, with its count (for reports)."""

    def __post_init__(self) -> None:
        if len(set(self.labels)) != len(self.labels):
            raise DatasetError(f"{self.name}: duplicate labels in {self.labels}")
        if list(self.folds) != sorted(set(self.folds)):
            raise DatasetError(f"{self.name}: folds {self.folds} are not distinct and increasing")
        known_labels = set(self.labels)
        known_folds = set(self.folds)
        for segment in self.segments:
            if segment.label not in known_labels:
                raise DatasetError(f"{segment.path}: label {segment.label!r} is not in {self.name}")
            if segment.fold not in known_folds:
                raise DatasetError(
                    f"{segment.path}: fold {segment.fold} is not one of {self.name}'s {self.folds}"
                )

    def __repr__(self) -> str:
        # The default repr would print thousands of segments.
        return (
            f"Dataset(name={self.name!r}, labels={len(self.labels)}, "
            f"segments={len(self.segments)}, folds={self.folds})"
        )

    def split(self, test_fold: int) -> tuple[Dataset, Dataset]:
        """Train on every fold but ``test_fold``, test on ``test_fold``: ``(train, test)``."""
        if test_fold not in self.folds:
            raise DatasetError(f"{self.name}: no fold {test_fold}; folds are {self.folds}")
        train = Dataset(
            name=f"{self.name} without fold {test_fold}",
            labels=self.labels,
            segments=tuple(s for s in self.segments if s.fold != test_fold),
            folds=tuple(f for f in self.folds if f != test_fold),
        )
        test = Dataset(
            name=f"{self.name} fold {test_fold}",
            labels=self.labels,
            segments=tuple(s for s in self.segments if s.fold == test_fold),
            folds=(test_fold,),
        )
        return train, test

    def folds_iter(self) -> Iterator[tuple[int, Dataset, Dataset]]:
        """Cross-validation: ``(test_fold, train, test)`` for every fold in turn."""
        for fold in self.folds:
            train, test = self.split(fold)
            yield fold, train, test

    def label_counts(self) -> dict[str, int]:
        """Segments per label, in label order (zero for a label without segments)."""
        counts = dict.fromkeys(self.labels, 0)
        for segment in self.segments:
            counts[segment.label] += 1
        return counts


def require_directory(root: str | os.PathLike[str]) -> Path:
    """``root`` as a Path, or a DatasetError if it is not an existing directory."""
    path = Path(root)
    if not path.exists():
        raise DatasetError(f"{path}: no such directory")
    if not path.is_dir():
        raise DatasetError(f"{path}: is not a directory")
    return path


def stable_fold(key: str, folds: int) -> int:
    """Fold 1..``folds`` for ``key`` from a cryptographic hash of it.

    Python's ``hash`` is salted per process and ``random`` depends on seeds and call order; a
    SHA-256 of the key gives the same fold on every machine and every run, and a file keeps its
    fold when others are added, so no run's test set leaks into another run's training set.
    """
    if folds < 1:
        raise DatasetError(f"need at least one fold, got {folds}")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % folds + 1


def resample(x: npt.ArrayLike, from_hz: int, to_hz: int) -> AudioArray:
    """Resample a mono signal with the edge's own resampler (no train/serve skew), as float32."""
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError(f"sample rates must be positive, got {from_hz} Hz -> {to_hz} Hz")
    return np.asarray(shared_resample(x, from_hz, to_hz), dtype=np.float32)


def audio_duration_s(path: Path) -> float:
    """Length of a recording in seconds, read from its header only."""
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read audio ({one_line(exc)})") from exc
    if info.samplerate <= 0 or info.frames <= 0:
        raise DatasetError(f"{path}: holds no audio")
    return float(info.frames / info.samplerate)


def load_audio(segment: LabelledSegment, sample_rate_hz: int) -> AudioArray:
    """The segment's span as mono float32 samples at ``sample_rate_hz``.

    Only the span's frames are decoded. A span that runs past the end of the file is cut at the
    end (loaders have checked spans against durations already); one that starts at or past the
    end is an error.
    """
    path = segment.path
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        with sf.SoundFile(str(path)) as audio:
            source_hz = int(audio.samplerate)
            total_frames = int(audio.frames)
            start = round(segment.start_s * source_hz)
            stop = total_frames if segment.end_s is None else round(segment.end_s * source_hz)
            stop = min(stop, total_frames)
            if start >= total_frames:
                raise DatasetError(
                    f"{path}: segment {segment.start_s}-{segment.end_s} s lies outside the "
                    f"recording ({total_frames / source_hz:.3f} s)"
                )
            if stop <= start:
                raise DatasetError(
                    f"{path}: segment {segment.start_s}-{segment.end_s} s is shorter than one "
                    f"sample at {source_hz} Hz"
                )
            audio.seek(start)
            frames = audio.read(stop - start, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read audio ({one_line(exc)})") from exc
    mono = np.asarray(frames, dtype=np.float32).mean(axis=1, dtype=np.float32)
    return resample(mono, source_hz, sample_rate_hz)
