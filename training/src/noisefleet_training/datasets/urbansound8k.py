"""UrbanSound8K: 8732 urban sound clips in 10 classes and 10 official folds.

Layout (as distributed)::

    root/metadata/UrbanSound8K.csv
    root/audio/fold1/100032-3-0-0.wav ... root/audio/fold10/...

The CSV's columns are slice_file_name, fsID, start, end, salience, fold, classID, class. The
official folds keep every slice of one Freesound recording (fsID) in one fold, so results are only
comparable to published ones under 10-fold cross-validation by these folds; never a random split.

``start`` and ``end`` give the slice's place in its source recording, not a span of the slice
file: each segment is the whole slice file. Labels follow classID order (index == classID for the
full dataset).
"""

from __future__ import annotations

import os
from pathlib import Path

from ._metadata import MetadataRecord, build_dataset, read_metadata_csv
from .base import Dataset, require_directory

NAME = "urbansound8k"
METADATA_CSV = Path("metadata") / "UrbanSound8K.csv"
OFFICIAL_FOLDS = range(1, 11)
REQUIRED_COLUMNS = ("slice_file_name", "fold", "classID", "class")
"""The columns the loader reads; fsID, start, end and salience may be present and are not used."""


def load_urbansound8k(root: str | os.PathLike[str], *, skip_missing: bool = False) -> Dataset:
    """Load UrbanSound8K from ``root`` with its official folds.

    Missing audio files raise a ``DatasetError`` naming the first few and their count, unless
    ``skip_missing`` is true: then they are left out and counted in ``Dataset.skipped``.
    """
    root_path = require_directory(root)
    csv_path = root_path / METADATA_CSV
    rows = read_metadata_csv(
        csv_path,
        REQUIRED_COLUMNS,
        layout_hint="expected the UrbanSound8K layout: metadata/UrbanSound8K.csv, audio/fold1..10",
    )
    records = []
    for row in rows:
        file_name = row.file_name(csv_path, "slice_file_name")
        fold = row.integer(csv_path, "fold")
        records.append(
            MetadataRecord(
                line=row.line,
                audio_path=root_path / "audio" / f"fold{fold}" / file_name,
                fold=fold,
                class_id=row.integer(csv_path, "classID"),
                label=row.text(csv_path, "class"),
            )
        )
    return build_dataset(NAME, root_path, csv_path, records, OFFICIAL_FOLDS, skip_missing)
