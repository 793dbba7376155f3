"""Writers for level records: JSON lines (the wire form), CSV, and a table for people."""

from __future__ import annotations

import csv
import json
from typing import Any, Protocol, TextIO

from noisefleet_core.contract.levels import LEVEL_FIELDS
from noisefleet_edge.console import FORMATS

CSV_COLUMNS = (
    "source",
    "channel",
    "start",
    "end",
    "duration_s",
    *LEVEL_FIELDS,
    "coverage",
    "clipped_samples",
    "invalid_samples",
    "calibrated",
    "calibration_offset_db",
)

# (header, wire field, width) of the table; levels print with one decimal, as meters show them.
TABLE_COLUMNS = (
    ("LAeq", "laeq_db", 6),
    ("LAFmax", "lafmax_db", 6),
    ("LAFmin", "lafmin_db", 6),
    ("LASmax", "lasmax_db", 6),
    ("LAF10", "laf10_db", 6),
    ("LAF50", "laf50_db", 6),
    ("LAF90", "laf90_db", 6),
    ("LCeq", "lceq_db", 6),
    ("LZeq", "lzeq_db", 6),
    ("LCpeak", "lcpeak_db", 6),
    ("LAE", "lae_db", 6),
)


class RecordWriter(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...


class JsonLinesWriter:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record, allow_nan=False) + "\n")
        self._stream.flush()


class CsvWriter:
    def __init__(self, stream: TextIO) -> None:
        self._writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        self._stream = stream
        self._header_written = False

    def write(self, record: dict[str, Any]) -> None:
        if record.get("kind") != "levels":
            return  # CSV holds level records only; events go to jsonl
        if not self._header_written:
            self._writer.writeheader()
            self._header_written = True
        self._writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
        self._stream.flush()


class TableWriter:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._source: object = ()

    def write(self, record: dict[str, Any]) -> None:
        if record.get("kind") == "event":
            self._write_event(record)
            return
        source = record.get("source")
        if source != self._source:
            self._source = source
            unit = "dB" if record.get("calibrated") else "dBFS (uncalibrated)"
            if source is not None:
                self._stream.write(f"# {source}  [{unit}]\n")
            header = "start                     dur_s " + " ".join(
                f"{name:>{width}}" for name, _, width in TABLE_COLUMNS
            )
            self._stream.write(header + "  flags\n")
        cells = []
        for _, field, width in TABLE_COLUMNS:
            value = record.get(field)
            cells.append(f"{'-':>{width}}" if value is None else f"{value:>{width}.1f}")
        flags = []
        if record.get("clipped_samples"):
            flags.append(f"clipped={record['clipped_samples']}")
        if record.get("invalid_samples"):
            flags.append(f"invalid={record['invalid_samples']}")
        line = f"{record['start']:<25} {record['duration_s']:>5.1f} " + " ".join(cells)
        self._stream.write(line + ("  " + ",".join(flags) if flags else "") + "\n")
        self._stream.flush()

    def _write_event(self, record: dict[str, Any]) -> None:
        confidence = record.get("confidence_mean")
        shown = "" if confidence is None else f", confidence {confidence:.2f}"
        part = "" if record.get("final", True) else f", part {record.get('part')} (continues)"
        self._stream.write(
            f"  event {record['label']}: {record['start']} to {record['end']} "
            f"({record['duration_s']:.1f} s), LAeq {record['laeq_db']:.1f}, "
            f"LAFmax {record['lafmax_db']:.1f}{shown}{part}\n"
        )
        self._stream.flush()


def make_writer(kind: str, stream: TextIO) -> RecordWriter:
    if kind == "jsonl":
        return JsonLinesWriter(stream)
    if kind == "csv":
        return CsvWriter(stream)
    if kind == "table":
        return TableWriter(stream)
    raise ValueError(f"unknown output format {kind!r}; choose one of {', '.join(FORMATS)}")
