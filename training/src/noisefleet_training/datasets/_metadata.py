"""Shared by the loaders of datasets described by a metadata CSV (UrbanSound8K, ESC-50).

Steps:
1. read the CSV, check its header has the columns the loader needs and every row its fields;
2. the loader turns each row into a ``MetadataRecord`` (typed fields, with the row's line number);
3. ``build_dataset`` checks that class ids and names agree one to one, that no file is listed
   twice and that every listed file exists, then orders the labels by class id.

Errors name the CSV and the line, so a user can open the file at the right place.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .base import Dataset, DatasetError, LabelledSegment, one_line

MISSING_EXAMPLES = 3
"""How many missing files a missing-audio error names before giving the count."""


@dataclass(frozen=True)
class CsvRow:
    """One data row of a metadata CSV, by column name, with its line number in the file."""

    line: int
    fields: dict[str, str]

    def text(self, csv_path: Path, column: str) -> str:
        value = self.fields[column].strip()
        if not value:
            raise DatasetError(f"{csv_path} line {self.line}: empty {column}")
        return value

    def file_name(self, csv_path: Path, column: str) -> str:
        """A bare file name: a listed path may not reach outside the dataset's audio folder."""
        value = self.text(csv_path, column)
        if value in {".", ".."} or "/" in value or "\\" in value:
            raise DatasetError(
                f"{csv_path} line {self.line}: {column} {value!r} is not a plain file name"
            )
        return value

    def integer(self, csv_path: Path, column: str) -> int:
        value = self.text(csv_path, column)
        try:
            return int(value)
        except ValueError:
            raise DatasetError(
                f"{csv_path} line {self.line}: {column} {value!r} is not an integer"
            ) from None

    def boolean(self, csv_path: Path, column: str) -> bool:
        value = self.text(csv_path, column)
        lowered = value.lower()
        if lowered in {"true", "1"}:
            return True
        if lowered in {"false", "0"}:
            return False
        raise DatasetError(f"{csv_path} line {self.line}: {column} {value!r} is not True or False")


@dataclass(frozen=True)
class MetadataRecord:
    """What a loader takes from one CSV row."""

    line: int
    audio_path: Path
    fold: int
    class_id: int
    label: str


def read_metadata_csv(csv_path: Path, required: Sequence[str], layout_hint: str) -> list[CsvRow]:
    """The data rows of ``csv_path``, after checking that the header has ``required`` columns."""
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: no such file ({layout_hint})")
    rows: list[CsvRow] = []
    try:
        with csv_path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            columns = _check_header(csv_path, next(reader, None), required)
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                if len(row) != len(columns):
                    raise DatasetError(
                        f"{csv_path} line {reader.line_num}: expected {len(columns)} fields, "
                        f"found {len(row)}"
                    )
                rows.append(
                    CsvRow(line=reader.line_num, fields=dict(zip(columns, row, strict=True)))
                )
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{csv_path}: not UTF-8 text ({one_line(exc)})") from exc
    except csv.Error as exc:
        raise DatasetError(f"{csv_path}: malformed CSV ({one_line(exc)})") from exc
    except OSError as exc:
        raise DatasetError(f"{csv_path}: cannot read ({one_line(exc)})") from exc
    return rows


def _check_header(csv_path: Path, header: list[str] | None, required: Sequence[str]) -> list[str]:
    if header is None:
        raise DatasetError(f"{csv_path}: empty file, expected a header with {', '.join(required)}")
    columns = [name.strip() for name in header]
    missing = [name for name in required if name not in columns]
    if missing:
        raise DatasetError(
            f"{csv_path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            f" (header has {', '.join(columns)})"
        )
    return columns


def check_fold(csv_path: Path, record: MetadataRecord, official_folds: range) -> None:
    if record.fold not in official_folds:
        raise DatasetError(
            f"{csv_path} line {record.line}: fold {record.fold} is not in "
            f"{official_folds.start}..{official_folds.stop - 1}"
        )


def build_dataset(
    name: str,
    root: Path,
    csv_path: Path,
    records: Sequence[MetadataRecord],
    official_folds: range,
    skip_missing: bool,
) -> Dataset:
    """Validate ``records`` and build the dataset; labels in class-id order.

    Missing audio files are an error that names the first few and the count, unless
    ``skip_missing``: then they are left out and counted in ``Dataset.skipped``. A CSV whose every
    file is missing is always an error (the audio is elsewhere, not partly downloaded).
    """
    if not records:
        raise DatasetError(f"{csv_path}: no rows")
    labels = _labels_in_id_order(csv_path, records)
    first_line: dict[Path, int] = {}
    for record in records:
        check_fold(csv_path, record, official_folds)
        if record.audio_path in first_line:
            raise DatasetError(
                f"{csv_path} line {record.line}: {record.audio_path.name} is listed twice "
                f"(first on line {first_line[record.audio_path]})"
            )
        first_line[record.audio_path] = record.line

    present: list[MetadataRecord] = []
    missing: list[MetadataRecord] = []
    for record in records:
        (present if record.audio_path.is_file() else missing).append(record)
    skipped: tuple[str, ...] = ()
    if missing:
        examples = ", ".join(
            r.audio_path.relative_to(root).as_posix() for r in missing[:MISSING_EXAMPLES]
        )
        more = ", ..." if len(missing) > MISSING_EXAMPLES else ""
        summary = (
            f"{len(missing)} of {len(records)} audio files listed in {csv_path.name} are missing"
        )
        if not present:
            raise DatasetError(
                f"{root}: all {len(records)} audio files listed in {csv_path.name} "
                f"are missing, e.g. {examples}{more}"
            )
        if not skip_missing:
            raise DatasetError(
                f"{root}: {summary}: {examples}{more} (pass skip_missing=True to load the rest)"
            )
        skipped = (f"{summary}: {examples}{more}",)

    segments = tuple(
        LabelledSegment(path=r.audio_path, label=r.label, fold=r.fold) for r in present
    )
    return Dataset(
        name=name,
        labels=labels,
        segments=segments,
        folds=tuple(sorted({r.fold for r in present})),
        skipped=skipped,
    )


def _labels_in_id_order(csv_path: Path, records: Sequence[MetadataRecord]) -> tuple[str, ...]:
    """Class names ordered by class id, after checking ids and names agree one to one."""
    name_of_id: dict[int, tuple[str, int]] = {}
    id_of_name: dict[str, tuple[int, int]] = {}
    for record in records:
        if record.class_id < 0:
            raise DatasetError(
                f"{csv_path} line {record.line}: class id {record.class_id} is negative"
            )
        known_name, name_line = name_of_id.setdefault(record.class_id, (record.label, record.line))
        if known_name != record.label:
            raise DatasetError(
                f"{csv_path} line {record.line}: class id {record.class_id} is {record.label!r} "
                f"here but {known_name!r} on line {name_line}"
            )
        known_id, id_line = id_of_name.setdefault(record.label, (record.class_id, record.line))
        if known_id != record.class_id:
            raise DatasetError(
                f"{csv_path} line {record.line}: class {record.label!r} has id {record.class_id} "
                f"here but {known_id} on line {id_line}"
            )
    return tuple(name_of_id[class_id][0] for class_id in sorted(name_of_id))
