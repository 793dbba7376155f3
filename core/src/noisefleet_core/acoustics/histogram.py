"""Level histograms: percentile levels that stay exact when intervals are combined.

Percentile levels (LAF10, LAF50, ...) of a long period cannot be computed from those of its
parts. Each level record therefore carries a histogram of its sampled L_AF values in bins of
``BIN_WIDTH_DB``; summing histograms and reading the percentile off the sum gives the period's
percentile to within one bin once bins hold many samples (an hour of 10 ms samples). An
interval's own LN is computed from its samples (``sample_exceeded_levels``); for a 1 s interval
(100 samples) the histogram's answer can differ from it by the gap between neighbouring samples.

Convention: LN is the level exceeded N % of the time, i.e. the (100 - N)th percentile of the
samples. Within a bin the samples are taken as spread evenly (linear interpolation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BIN_WIDTH_DB = 0.1


@dataclass(frozen=True)
class LevelHistogram:
    """Counts of level samples; bin ``i`` covers [(first_bin + i) * w, (first_bin + i + 1) * w)."""

    first_bin: int
    counts: tuple[int, ...]
    bin_width_db: float = BIN_WIDTH_DB

    @property
    def total(self) -> int:
        return sum(self.counts)

    @classmethod
    def empty(cls, bin_width_db: float = BIN_WIDTH_DB) -> LevelHistogram:
        return cls(0, (), bin_width_db)

    @classmethod
    def from_levels(
        cls, levels_db: npt.ArrayLike, bin_width_db: float = BIN_WIDTH_DB
    ) -> LevelHistogram:
        values = np.asarray(levels_db, dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return cls.empty(bin_width_db)
        bins = np.floor(values / bin_width_db).astype(np.int64)
        first = int(bins.min())
        counts = np.bincount(bins - first)
        return cls(first, tuple(int(c) for c in counts), bin_width_db)

    def to_wire(self) -> dict[str, object]:
        """The JSON form shipped in level records."""
        return {
            "bin_width_db": self.bin_width_db,
            "first_bin": self.first_bin,
            "counts": list(self.counts),
        }

    @classmethod
    def from_wire(cls, data: dict[str, object]) -> LevelHistogram:
        counts = data["counts"]
        first_bin = data["first_bin"]
        width = data.get("bin_width_db", BIN_WIDTH_DB)
        if not isinstance(counts, list) or not all(isinstance(c, int) and c >= 0 for c in counts):
            raise ValueError("histogram counts must be a list of non-negative integers")
        if not isinstance(first_bin, int) or not isinstance(width, int | float):
            raise ValueError("histogram first_bin must be an integer, bin_width_db a number")
        if not (math.isfinite(width) and width > 0):
            raise ValueError("histogram bin_width_db must be a positive finite number")
        return cls(first_bin, tuple(counts), float(width))


def merge_histograms(histograms: Iterable[LevelHistogram]) -> LevelHistogram:
    """Sum histograms of the same bin width (the histogram of all their samples)."""
    parts = [h for h in histograms if h.counts]
    if not parts:
        return LevelHistogram.empty()
    width = parts[0].bin_width_db
    if any(not math.isclose(h.bin_width_db, width) for h in parts):
        raise ValueError("cannot merge histograms with different bin widths")
    first = min(h.first_bin for h in parts)
    last = max(h.first_bin + len(h.counts) for h in parts)
    total = np.zeros(last - first, dtype=np.int64)
    for h in parts:
        start = h.first_bin - first
        total[start : start + len(h.counts)] += np.asarray(h.counts, dtype=np.int64)
    return LevelHistogram(first, tuple(int(c) for c in total), width)


def exceeded_level(histogram: LevelHistogram, percent_exceeded: float) -> float | None:
    """LN from a histogram: the level exceeded ``percent_exceeded`` % of the time."""
    if not 0.0 <= percent_exceeded <= 100.0:
        raise ValueError("percent_exceeded must be within 0..100")
    total = histogram.total
    if total == 0:
        return None
    target = (100.0 - percent_exceeded) / 100.0 * total
    cumulative = np.cumsum(np.asarray(histogram.counts, dtype=np.float64))
    index = int(np.searchsorted(cumulative, target, side="left"))
    index = min(index, len(cumulative) - 1)
    # Skip empty bins so the result lies inside a bin that holds samples.
    while histogram.counts[index] == 0:
        index += 1
    before = cumulative[index - 1] if index > 0 else 0.0
    fraction = (target - before) / histogram.counts[index]
    lower = (histogram.first_bin + index) * histogram.bin_width_db
    return float(lower + min(max(fraction, 0.0), 1.0) * histogram.bin_width_db)


def exceeded_levels(
    histogram: LevelHistogram, percents: Sequence[float]
) -> tuple[float | None, ...]:
    """Several LN from one histogram."""
    return tuple(exceeded_level(histogram, p) for p in percents)


def sample_exceeded_levels(
    samples_db: npt.ArrayLike, percents: Sequence[float]
) -> tuple[float | None, ...]:
    """LN from raw level samples (linear interpolation between order statistics)."""
    values = np.asarray(samples_db, dtype=np.float64)
    if values.size == 0:
        return tuple(None for _ in percents)
    return tuple(float(np.percentile(values, 100.0 - p)) for p in percents)
