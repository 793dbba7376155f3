"""Level records packed into sensor-minute rows, and merged idempotently (pure, numpy).

A minute row holds its records in start order: offsets and durations in ms, an 8 × n matrix of
unsigned 16-bit values (value + 32768, 0 for null): LAeq, LAFmax, LAFmin, LAF10, LAF50, LAF90,
LCeq, LCpeak in centi-dB (the wire's two decimals, exactly), coverage in 1/10000 and the
calibrated flags. Stored, the matrix becomes one bytea of a high-byte plane then a low-byte plane
(``encode_levels``, decoded in SQL by ``plane_value``), and what is the same for every record is
stored once (see the migration).

The row also keeps the minute's aggregates: the energy sum Σ 10^(LAeq/10)·t over the measured
time, the measured seconds, maxima, the merged L_AF histogram and the energy per label from
``energy_shares``. Keeping sums (not averages) makes every longer level exact: roll-ups add
energies and histograms, never dB.

``merge_minute`` adds records to a row: a record whose start (offset) is already there is a
duplicate and is ignored, so replays and redeliveries change nothing; aggregates grow by the new
records only. It returns None when nothing was new.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from noisefleet_core.acoustics.histogram import LevelHistogram, exceeded_level
from noisefleet_core.contract.records import LevelRecordIn

LEVEL_VALUES = (
    "laeq_db",
    "lafmax_db",
    "lafmin_db",
    "laf10_db",
    "laf50_db",
    "laf90_db",
    "lceq_db",
    "lcpeak_db",
)
"""The record fields of rows 0..7 of the levels matrix."""
PLANES = len(LEVEL_VALUES)
_LEVELS_OF = attrgetter(*LEVEL_VALUES)
_NULL = 0
_BIAS = 32768


def minute_of(moment: datetime) -> datetime:
    """The start of the UTC minute holding ``moment``."""
    return moment.replace(second=0, microsecond=0)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass
class HistogramSum:
    """A growing histogram (bins of ``width`` dB starting at bin ``first``)."""

    width: float | None = None
    first: int = 0
    counts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add(self, width: float, first: int, counts: Sequence[int] | npt.NDArray[np.int64]) -> None:
        if len(counts) == 0:
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

    def add_many(self, records: Sequence[LevelRecordIn]) -> None:
        """Add the records' histograms (one bincount when they share a bin width)."""
        widths = {r.histogram.bin_width_db for r in records if r.histogram.counts}
        if len(widths) != 1:
            for r in records:
                self.add(r.histogram.bin_width_db, r.histogram.first_bin, r.histogram.counts)
            return
        parts = [r.histogram for r in records if r.histogram.counts]
        lengths = np.fromiter((len(h.counts) for h in parts), dtype=np.int64, count=len(parts))
        firsts = np.fromiter((h.first_bin for h in parts), dtype=np.int64, count=len(parts))
        counts = np.fromiter(chain.from_iterable(h.counts for h in parts), dtype=np.int64)
        starts = np.repeat(firsts, lengths)
        within = np.arange(counts.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        bins = starts + within
        low = int(bins.min())
        summed = np.bincount(bins - low, weights=counts).astype(np.int64)
        self.add(widths.pop(), low, summed)

    def percentiles(self) -> tuple[float | None, float | None, float | None]:
        if self.width is None or not self.counts.size or not self.counts.sum():
            return (None, None, None)
        histogram = LevelHistogram(self.first, tuple(int(c) for c in self.counts), self.width)
        return (
            exceeded_level(histogram, 10.0),
            exceeded_level(histogram, 50.0),
            exceeded_level(histogram, 90.0),
        )


def _rebin(
    width: float, first: int, counts: npt.NDArray[np.int64], coarse: float
) -> tuple[int, npt.NDArray[np.int64]]:
    if math.isclose(width, coarse):
        return first, counts
    edges = (first + np.arange(counts.size)) * width
    target = np.floor(edges / coarse + 1e-9).astype(np.int64)
    new_first = int(target.min())
    out = np.zeros(int(target.max()) - new_first + 1, dtype=np.int64)
    np.add.at(out, target - new_first, counts)
    return new_first, out


def _empty_int() -> npt.NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


@dataclass
class MinuteRow:
    """One sensor-minute as stored (see the module docstring)."""

    sensor_id: int
    minute: datetime
    offsets_ms: npt.NDArray[np.int64] = field(default_factory=_empty_int)
    durations_ms: npt.NDArray[np.int64] = field(default_factory=_empty_int)
    levels: npt.NDArray[np.uint16] = field(
        default_factory=lambda: np.zeros((PLANES, 0), dtype=np.uint16)
    )
    coverage: npt.NDArray[np.int64] = field(default_factory=_empty_int)
    """Per record, in 1/10000."""
    calibrated: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    energy: float = 0.0
    measured_s: float = 0.0
    lafmax_db: float | None = None
    lcpeak_db: float | None = None
    histogram: HistogramSum = field(default_factory=HistogramSum)
    share_energy: dict[str, float] = field(default_factory=dict)
    clipped_samples: int = 0
    invalid_samples: int = 0

    @property
    def count(self) -> int:
        return int(self.durations_ms.size)

    @property
    def laeq_db(self) -> float | None:
        if self.measured_s <= 0 or self.energy <= 0:
            return None
        return round(10.0 * math.log10(self.energy / self.measured_s), 2)

    def percentiles(self) -> tuple[float | None, float | None, float | None]:
        p10, p50, p90 = self.histogram.percentiles()
        return (
            None if p10 is None else round(p10, 2),
            None if p50 is None else round(p50, 2),
            None if p90 is None else round(p90, 2),
        )

    def regular_offsets(self) -> bool:
        """Whether offsets are 0, d, 2d… for one duration d (then they are not stored)."""
        if self.count == 0:
            return True
        d = self.durations_ms[0]
        return bool(
            np.all(self.durations_ms == d)
            and np.array_equal(self.offsets_ms, np.arange(self.count) * d)
        )


NIBBLE_NULL = 15
"""In a level's nibble-coded high bytes, the code of a null value."""


def encode_levels(levels: npt.NDArray[np.uint16]) -> bytes:
    """The stored form of the 8 × n matrix (decoded in SQL by ``plane_value``):

    1. a header of 8 × 4 bytes: per level its mode (0: high bytes as 4-bit steps above a base,
       1: high bytes in full), the base, and the offset of its high bytes (big-endian u16);
    2. per level its high bytes: nibbles (record i in the low nibble of byte i // 2 when i is
       even, the high nibble when odd; 15 is null) when they span at most 14 steps (36 dB)
       above the lowest, else one byte per record;
    3. all low bytes, level by level (8 × n bytes).
    A minute's levels rarely span 36 dB, so the high bytes cost half a byte per value."""
    count = levels.shape[1]
    high = (levels >> 8).astype(np.int64)
    present = levels != _NULL
    base = np.where(present, high, 255).min(axis=1, initial=255)
    base = np.where(present.any(axis=1), base, 0)
    steps = np.where(present, high - base[:, None], 0)
    nibble = steps.max(axis=1, initial=0) < NIBBLE_NULL
    codes = np.where(present, steps, NIBBLE_NULL).astype(np.uint8)
    if count % 2:
        codes = np.concatenate([codes, np.zeros((PLANES, 1), dtype=np.uint8)], axis=1)
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
    full = high.astype(np.uint8)
    header = bytearray()
    bodies = []
    offset = 4 * PLANES
    for k in range(PLANES):
        body = packed[k].tobytes() if nibble[k] else full[k].tobytes()
        header += bytes((0 if nibble[k] else 1, int(base[k]), offset >> 8, offset & 0xFF))
        bodies.append(body)
        offset += len(body)
    return bytes(header) + b"".join(bodies) + (levels & 0xFF).astype(np.uint8).tobytes()


def decode_levels(data: bytes, count: int) -> npt.NDArray[np.uint16]:
    raw = np.frombuffer(data, dtype=np.uint8)
    low = raw[len(raw) - PLANES * count :].reshape(PLANES, count).astype(np.uint16)
    out = np.zeros((PLANES, count), dtype=np.uint16)
    for k in range(PLANES):
        mode, base = int(raw[4 * k]), int(raw[4 * k + 1])
        offset = (int(raw[4 * k + 2]) << 8) | int(raw[4 * k + 3])
        if mode == 0:
            packed = raw[offset : offset + (count + 1) // 2]
            codes = np.empty(2 * packed.size, dtype=np.uint16)
            codes[0::2] = packed & 0x0F
            codes[1::2] = packed >> 4
            codes = codes[:count]
            high = (codes + base).astype(np.uint16)
            value = (high << 8) | low[k]
            out[k] = np.where(codes == NIBBLE_NULL, _NULL, value)
        else:
            high = raw[offset : offset + count].astype(np.uint16)
            out[k] = (high << 8) | low[k]
    return out


def encode_histogram(counts: npt.NDArray[np.int64]) -> bytes:
    """The stored form of a minute's histogram: zlib of little-endian int32 counts."""
    return zlib.compress(counts.astype("<i4").tobytes(), 6)


def decode_histogram(data: bytes) -> npt.NDArray[np.int64]:
    return np.frombuffer(zlib.decompress(data), dtype="<i4").astype(np.int64)


def _values(records: Sequence[LevelRecordIn]) -> npt.NDArray[np.uint16]:
    """The 8 × n matrix of ``records``' levels (centi-dB + 32768; 0 for null)."""
    table = np.array([_LEVELS_OF(r) for r in records], dtype=np.float64).T
    if table.size == 0:
        return np.zeros((PLANES, 0), dtype=np.uint16)
    scaled = np.clip(np.rint(table * 100.0), -32767, 32767) + _BIAS
    scaled[np.isnan(table)] = _NULL
    return scaled.astype(np.uint16)


def record_energy(record: LevelRecordIn) -> tuple[float, float]:
    """(energy, measured seconds) of one record: its LAeq holds over its valid samples."""
    measured = record.duration_s * record.coverage
    if record.laeq_db is None or measured <= 0:
        return 0.0, 0.0
    return 10.0 ** (record.laeq_db / 10.0) * measured, measured


def _max(a: float | None, values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    if not present:
        return a
    top = max(present)
    return top if a is None else max(a, top)


def merge_minute(
    row: MinuteRow | None, sensor_id: int, minute: datetime, records: Sequence[LevelRecordIn]
) -> MinuteRow | None:
    """``row`` (or a new row) with the records that are not in it yet; None if none were new."""
    target = row if row is not None else MinuteRow(sensor_id, minute)
    millisecond = timedelta(milliseconds=1)
    offsets = np.fromiter(
        ((r.start - minute) // millisecond for r in records), dtype=np.int64, count=len(records)
    )
    # The first copy of each offset, and only offsets the row does not hold yet.
    _, first_index = np.unique(offsets, return_index=True)
    keep = np.zeros(len(records), dtype=bool)
    keep[first_index] = True
    keep &= ~np.isin(offsets, target.offsets_ms)
    if not keep.any():
        return None
    new = [r for r, k in zip(records, keep, strict=True) if k]
    new_offsets = offsets[keep]
    durations = np.fromiter(
        (round(r.duration_s * 1000) for r in new), dtype=np.int64, count=len(new)
    )
    all_offsets = np.concatenate([target.offsets_ms, new_offsets])
    order = np.argsort(all_offsets, kind="stable")
    target.offsets_ms = all_offsets[order]
    target.durations_ms = np.concatenate([target.durations_ms, durations])[order]
    target.levels = np.concatenate([target.levels, _values(new)], axis=1)[:, order]
    coverage = np.fromiter((round(r.coverage * 10000) for r in new), dtype=np.int64, count=len(new))
    target.coverage = np.concatenate([target.coverage, coverage])[order]
    calibrated = np.fromiter((r.calibrated for r in new), dtype=bool, count=len(new))
    target.calibrated = np.concatenate([target.calibrated, calibrated])[order]
    for record in new:
        energy, measured = record_energy(record)
        target.energy += energy
        target.measured_s += measured
        for label, share in record.energy_shares:
            target.share_energy[label] = target.share_energy.get(label, 0.0) + share * energy
        target.clipped_samples += record.clipped_samples
        target.invalid_samples += record.invalid_samples
    target.lafmax_db = _max(target.lafmax_db, (r.lafmax_db for r in new))
    target.lcpeak_db = _max(target.lcpeak_db, (r.lcpeak_db for r in new))
    target.histogram.add_many(new)
    return target


def group_by_minute(
    records: Iterable[tuple[int, LevelRecordIn]],
) -> dict[tuple[int, datetime], list[LevelRecordIn]]:
    """Records per (sensor_id, minute), in arrival order."""
    groups: dict[tuple[int, datetime], list[LevelRecordIn]] = {}
    key: tuple[int, datetime] | None = None
    end: datetime | None = None
    group: list[LevelRecordIn] = []
    minute = timedelta(minutes=1)
    for sensor_id, record in records:
        # Records come in runs of one sensor and minute: look the group up once per run.
        if key is None or sensor_id != key[0] or end is None or not key[1] <= record.start < end:
            key = (sensor_id, minute_of(record.start))
            end = key[1] + minute
            group = groups.setdefault(key, [])
        group.append(record)
    return groups
