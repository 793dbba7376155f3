"""ESC-50: 2000 five-second clips in 50 classes and 5 official folds (ESC-10: a 10-class subset).

Layout (as distributed)::

    root/meta/esc50.csv
    root/audio/1-100032-A-0.wav ...

The CSV's columns are filename, fold, target, category, esc10, src_file, take. The official folds
keep every clip cut from one source file (src_file) in one fold; evaluate by 5-fold
cross-validation over them, never by a random split. Labels follow target order (index == target
for the full dataset; for ESC-10 the ten categories keep their relative ESC-50 order).
"""

from __future__ import annotations

import os
from pathlib import Path

from ._metadata import MetadataRecord, build_dataset, read_metadata_csv
from .base import Dataset, DatasetError, require_directory

NAME = "esc50"
ESC10_NAME = "esc10"
METADATA_CSV = Path("meta") / "esc50.csv"
OFFICIAL_FOLDS = range(1, 6)
REQUIRED_COLUMNS = ("filename", "fold", "target", "category")
"""Always read; ``esc10`` is read too when only ESC-10 is asked for."""


def load_esc50(
    root: str | os.PathLike[str], esc10_only: bool = False, *, skip_missing: bool = False
) -> Dataset:
    """Load ESC-50 (or its ESC-10 subset) from ``root`` with its official folds.

    Missing audio files raise a ``DatasetError`` naming the first few and their count, unless
    ``skip_missing`` is true: then they are left out and counted in ``Dataset.skipped``.
    """
    root_path = require_directory(root)
    csv_path = root_path / METADATA_CSV
    required = (*REQUIRED_COLUMNS, "esc10") if esc10_only else REQUIRED_COLUMNS
    rows = read_metadata_csv(
        csv_path, required, layout_hint="expected the ESC-50 layout: meta/esc50.csv, audio/"
    )
    records = []
    for row in rows:
        record = MetadataRecord(
            line=row.line,
            audio_path=root_path / "audio" / row.file_name(csv_path, "filename"),
            fold=row.integer(csv_path, "fold"),
            class_id=row.integer(csv_path, "target"),
            label=row.text(csv_path, "category"),
        )
        if not esc10_only or row.boolean(csv_path, "esc10"):
            records.append(record)
    if esc10_only and not records:
        raise DatasetError(f"{csv_path}: no row has esc10 True")
    name = ESC10_NAME if esc10_only else NAME
    return build_dataset(name, root_path, csv_path, records, OFFICIAL_FOLDS, skip_missing)
