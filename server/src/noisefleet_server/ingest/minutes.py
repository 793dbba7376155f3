"""Level records packed into sensor-minute rows, and merged idempotently (pure).

A minute row holds its records as parallel arrays in start order (offsets and durations in ms,
levels in centi-dB, coverage in 1/10000) plus the minute's aggregates: the energy sum
Σ 10^(LAeq/10)·t over the measured time, the measured seconds, maxima, the merged L_AF histogram
and the energy per label from ``energy_shares``. Keeping sums (not averages) makes every longer
level exact: roll-ups add energies and histograms, never dB.

``merge_minute`` adds records to a row: a record whose start (offset) is already there is a
duplicate and is ignored, so replays and redeliveries change nothing; aggregates grow by the new
records only. It returns None when nothing was new.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from noisefleet_core.acoustics.histogram import LevelHistogram, exceeded_level
from noisefleet_core.contract.records import Histogram, LevelRecordIn

LEVEL_ARRAYS = ("laeq", "lafmax", "lafmin", "laf10", "laf50", "laf90", "lceq", "lcpeak")
_RECORD_FIELDS = {
    "laeq": "laeq_db",
    "lafmax": "lafmax_db",
    "lafmin": "lafmin_db",
    "laf10": "laf10_db",
    "laf50": "laf50_db",
    "laf90": "laf90_db",
    "lceq": "lceq_db",
    "lcpeak": "lcpeak_db",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def minute_of(moment: datetime) -> datetime:
    """The start of the UTC minute holding ``moment``."""
    return moment.replace(second=0, microsecond=0)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _centi(value: float | None) -> int | None:
    if value is None:
        return None
    centi = round(value * 100)
    return max(-32767, min(32767, centi))


@dataclass
class HistogramSum:
    """A growing histogram (bins of ``width`` dB starting at bin ``first``)."""

    width: float | None = None
    first: int = 0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add(self, width: float, first: int, counts: Sequence[int]) -> None:
        if not counts:
            return
        values = np.asarray(counts, dtype=np.int64)
        if self.width is None or not self.counts.size:
            self.width, self.first, self.counts = width, first, values.copy()
            return
        if not math.isclose(width, self.width):
            # Different resolutions: re-bin both to the coarser one (exact when one width is
            # a multiple of the other, as 0.1 and 0.5 dB are).
            coarse = max(width, self.width)
            self.first, self.counts = _rebin(self.width, self.first, self.counts, coarse)
            first, values = _rebin(width, first, values, coarse)
            self.width = coarse
        lo = min(self.first, first)
        hi = max(self.first + self.counts.size, first + values.size)
        total = np.zeros(hi - lo, dtype=np.int64)
        total[self.first - lo : self.first - lo + self.counts.size] += self.counts
        total[first - lo : first - lo + values.size] += values
        self.first, self.counts = lo, total

    def percentiles(self) -> tuple[float | None, float | None, float | None]:
        if self.width is None or not self.counts.size or not self.counts.sum():
            return (None, None, None)
        histogram = LevelHistogram(self.first, tuple(int(c) for c in self.counts), self.width)
        return (
            exceeded_level(histogram, 10.0),
            exceeded_level(histogram, 50.0),
            exceeded_level(histogram, 90.0),
        )


def _rebin(width: float, first: int, counts: np.ndarray, coarse: float) -> tuple[int, np.ndarray]:
    if math.isclose(width, coarse):
        return first, counts
    edges = (first + np.arange(counts.size)) * width
    target = np.floor(edges / coarse + 1e-9).astype(np.int64)
    new_first = int(target.min())
    out = np.zeros(int(target.max()) - new_first + 1, dtype=np.int64)
    np.add.at(out, target - new_first, counts)
    return new_first, out


@dataclass
class MinuteRow:
    """One sensor-minute as stored (see the module docstring)."""

    sensor_id: int
    minute: datetime
    offsets_ms: list[int] = field(default_factory=list)
    durations_ms: list[int] = field(default_factory=list)
    levels: dict[str, list[int | None]] = field(
        default_factory=lambda: {name: [] for name in LEVEL_ARRAYS}
    )
    coverage: list[int] = field(default_factory=list)
    calibrated: list[bool] = field(default_factory=list)
    energy: float = 0.0
    measured_s: float = 0.0
    lafmax_db: float | None = None
    lcpeak_db: float | None = None
    histogram: HistogramSum = field(default_factory=HistogramSum)
    share_energy: dict[str, float] = field(default_factory=dict)
    clipped_samples: int = 0
    invalid_samples: int = 0

    @property
    def laeq_db(self) -> float | None:
        if self.measured_s <= 0 or self.energy <= 0:
            return None
        return round(10.0 * math.log10(self.energy / self.measured_s), 2)

    def percentiles(self) -> tuple[float | None, float | None, float | None]:
        return tuple(None if p is None else round(p, 2) for p in self.histogram.percentiles())  # type: ignore[return-value]


def record_energy(record: LevelRecordIn) -> tuple[float, float]:
    """(energy, measured seconds) of one record: its LAeq holds over its valid samples."""
    measured = record.duration_s * record.coverage
    if record.laeq_db is None or measured <= 0:
        return 0.0, 0.0
    return 10.0 ** (record.laeq_db / 10.0) * measured, measured


def _insert_at(row: MinuteRow, index: int, record: LevelRecordIn, offset_ms: int) -> None:
    row.offsets_ms.insert(index, offset_ms)
    row.durations_ms.insert(index, round(record.duration_s * 1000))
    for name, attr in _RECORD_FIELDS.items():
        row.levels[name].insert(index, _centi(getattr(record, attr)))
    row.coverage.insert(index, round(record.coverage * 10000))
    row.calibrated.insert(index, record.calibrated)


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def _offset_ms(minute: datetime, start: datetime) -> int:
    return (start - minute) // timedelta(milliseconds=1)


def merge_minute(
    row: MinuteRow | None, sensor_id: int, minute: datetime, records: Iterable[LevelRecordIn]
) -> MinuteRow | None:
    """``row`` (or a new row) with the records that are not in it yet; None if none were new."""
    target = row if row is not None else MinuteRow(sensor_id, minute)
    seen = set(target.offsets_ms)
    added = False
    for record in records:
        offset = _offset_ms(minute, record.start)
        if offset in seen:
            continue
        seen.add(offset)
        added = True
        if not target.offsets_ms or offset > target.offsets_ms[-1]:
            index = len(target.offsets_ms)
        else:
            index = next(i for i, o in enumerate(target.offsets_ms) if o > offset)
        _insert_at(target, index, record, offset)
        energy, measured = record_energy(record)
        target.energy += energy
        target.measured_s += measured
        target.lafmax_db = _max(target.lafmax_db, record.lafmax_db)
        target.lcpeak_db = _max(target.lcpeak_db, record.lcpeak_db)
        hist: Histogram = record.histogram
        target.histogram.add(hist.bin_width_db, hist.first_bin, hist.counts)
        for label, share in record.energy_shares:
            target.share_energy[label] = target.share_energy.get(label, 0.0) + share * energy
        target.clipped_samples += record.clipped_samples
        target.invalid_samples += record.invalid_samples
    return target if added else None


def group_by_minute(
    records: Iterable[tuple[int, LevelRecordIn]],
) -> dict[tuple[int, datetime], list[LevelRecordIn]]:
    """Records per (sensor_id, minute), in arrival order."""
    groups: dict[tuple[int, datetime], list[LevelRecordIn]] = {}
    for sensor_id, record in records:
        groups.setdefault((sensor_id, minute_of(record.start)), []).append(record)
    return groups
