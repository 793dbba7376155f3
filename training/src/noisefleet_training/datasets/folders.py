"""One folder per class: the layout people build by hand.

Layout::

    root/dog_bark/rec01.wav
    root/dog_bark/garden/2024-05-01.flac    (subfolders of a class folder belong to that class)
    root/siren/12345-8-0-1.wav

Steps:
1. every non-hidden subdirectory of ``root`` is a class; labels are the folder names, sorted;
2. every .wav, .flac or .ogg file (suffix in any case) under a class folder is one clip of that
   class; hidden files (macOS ``._x.wav`` forks, ``.DS_Store``) and other files are left out and
   counted in ``Dataset.skipped``;
3. each clip gets a fold from a hash of its group key (``stable_fold``).

There are no official folds, so they are derived deterministically: a random split would put
different files in the test set on every run and machine, and results would leak between runs.
The group key keeps clips of one recording together: a file whose name matches
``group_pattern`` (by default a leading number and a dash, as UrbanSound8K's
``{fsID}-{classID}-{occurrence}-{slice}.wav``) is grouped by the number, across class folders,
so slices of one recording never land in two folds; any other file is its own group, keyed by its
path relative to ``root`` (with ``/`` separators, so the fold is the same on every OS). Adding
files never moves existing ones to another fold.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .base import (
    AUDIO_SUFFIXES,
    Dataset,
    DatasetError,
    LabelledSegment,
    require_directory,
    stable_fold,
)

DEFAULT_FOLDS = 5
DEFAULT_GROUP_PATTERN = r"^(\d+)-"
"""Matched against the file name; its first group is the recording id the file was cut from."""


def load_class_folders(
    root: str | os.PathLike[str],
    folds: int = DEFAULT_FOLDS,
    *,
    group_pattern: str | None = DEFAULT_GROUP_PATTERN,
) -> Dataset:
    """Load a folder-per-class dataset with ``folds`` derived folds.

    ``group_pattern`` (a regular expression with one group, searched in the file name) names the
    recording a file was cut from; None treats every file as its own recording.
    """
    root_path = require_directory(root)
    if folds < 2:
        raise DatasetError(f"{root_path}: cross-validation needs at least 2 folds, got {folds}")
    group_regex = _compile_group_pattern(group_pattern)

    class_dirs = sorted(
        (p for p in root_path.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    if not class_dirs:
        raise DatasetError(
            f"{root_path}: no class folders (expected one subdirectory per class holding "
            "wav/flac/ogg files)"
        )
    ignored = sum(1 for p in root_path.iterdir() if p.is_file())

    segments: list[LabelledSegment] = []
    for class_dir in class_dirs:
        audio_files, other_files = _class_files(class_dir)
        ignored += other_files
        if not audio_files:
            raise DatasetError(f"{class_dir}: class folder holds no wav, flac or ogg files")
        for path in audio_files:
            key = group_key(path.relative_to(root_path), group_regex)
            segments.append(
                LabelledSegment(path=path, label=class_dir.name, fold=stable_fold(key, folds))
            )

    skipped = (f"{ignored} files that are not wav/flac/ogg or are hidden",) if ignored else ()
    return Dataset(
        name=f"folders:{root_path.name}",
        labels=tuple(d.name for d in class_dirs),
        segments=tuple(segments),
        folds=tuple(sorted({s.fold for s in segments if s.fold is not None})),
        skipped=skipped,
    )


def group_key(relative_path: Path, group_regex: re.Pattern[str] | None) -> str:
    """The key a file's fold is hashed from: its recording id if the name has one, else its path."""
    if group_regex is not None:
        match = group_regex.search(relative_path.name)
        if match is not None:
            return f"recording:{match.group(1)}"
    return f"file:{relative_path.as_posix()}"


def _compile_group_pattern(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise DatasetError(
            f"group pattern {pattern!r} is not a regular expression ({exc})"
        ) from exc
    if regex.groups < 1:
        raise DatasetError(f"group pattern {pattern!r} needs a group for the recording id")
    return regex


def _class_files(class_dir: Path) -> tuple[list[Path], int]:
    """Audio files under ``class_dir`` (sorted) and the number of other files left out."""
    audio: list[Path] = []
    others = 0
    for path in sorted(class_dir.rglob("*")):
        if not path.is_file():
            continue
        hidden = any(part.startswith(".") for part in path.relative_to(class_dir).parts)
        if not hidden and path.suffix.lower() in AUDIO_SUFFIXES:
            audio.append(path)
        else:
            others += 1
    return audio, others
