"""Dataset loaders: the layouts users have, as labelled segments with cross-validation folds.

Kinds (``load_dataset``):

- ``urbansound8k``: metadata/UrbanSound8K.csv and audio/fold1..10, the 10 official folds;
- ``esc50``: meta/esc50.csv and audio/, the 5 official folds;
- ``folders``: one folder per class, folds derived from a hash of each recording's id or path;
- ``audacity``: recordings with Audacity label tracks beside them, a fold per recording.

Every loader raises ``DatasetError`` (a ``ValueError``) with a one-line message naming the file and
the problem. ``load_audio`` reads a segment as mono samples at the classifier's rate.
"""

from __future__ import annotations

import os
from typing import Final

from .audacity import LabelEvent, load_audacity_recordings, read_label_track, write_label_track
from .base import Dataset, DatasetError, LabelledSegment, load_audio, require_directory, resample
from .esc50 import load_esc50
from .folders import load_class_folders
from .urbansound8k import load_urbansound8k

DATASET_KINDS: Final = ("urbansound8k", "esc50", "folders", "audacity")

__all__ = [
    "DATASET_KINDS",
    "Dataset",
    "DatasetError",
    "LabelEvent",
    "LabelledSegment",
    "load_audacity_recordings",
    "load_audio",
    "load_class_folders",
    "load_dataset",
    "load_esc50",
    "load_urbansound8k",
    "read_label_track",
    "resample",
    "write_label_track",
]


def load_dataset(
    kind: str,
    root: str | os.PathLike[str],
    *,
    folds: int | None = None,
    skip_missing: bool = False,
) -> Dataset:
    """Load the dataset of ``kind`` (one of ``DATASET_KINDS``) at ``root``.

    ``folds`` sets the number of derived folds for ``folders`` and ``audacity`` (each loader's
    default when None); the official datasets have their own folds and refuse it.
    ``skip_missing`` leaves out (and counts) files the metadata lists but the disk lacks, instead of
    raising; ``folders`` lists only what is on disk, so nothing can be missing there.
    """
    normalised = kind.strip().lower()
    if normalised not in DATASET_KINDS:
        raise DatasetError(
            f"unknown dataset kind {kind!r}; choose one of {', '.join(DATASET_KINDS)}"
        )
    root_path = require_directory(root)
    if normalised in {"urbansound8k", "esc50"}:
        if folds is not None:
            raise DatasetError(
                f"{normalised} has official folds; folds= applies to folders and audacity"
            )
        if normalised == "urbansound8k":
            return load_urbansound8k(root_path, skip_missing=skip_missing)
        return load_esc50(root_path, skip_missing=skip_missing)
    if normalised == "folders":
        if folds is None:
            return load_class_folders(root_path)
        return load_class_folders(root_path, folds)
    if folds is None:
        return load_audacity_recordings(root_path, skip_missing=skip_missing)
    return load_audacity_recordings(root_path, folds, skip_missing=skip_missing)
