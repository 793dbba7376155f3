"""The window behind each sample of a rule, and sums and maxima of data rows over those windows.

Steps of ``sample_windows``:
1. the grid: sample times at epoch multiples of ``step_s`` in (t_from, t_to];
2. per sample t the window whose data it describes: rows starting in [lo, t); ``rolling``:
   lo = t - window_s; ``clock``: the local clock window containing [t - step, t) (so far);
   ``period``: the occurrence of an active window containing it (so far);
3. whether the sample closes its window (rolling: always) and whether it is active.

Range queries over data rows sorted by start are one ``searchsorted`` per bound: sums from
cumulative sums, maxima from a sparse table (O(n log n) once, O(1) per window, NaN-aware).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from noisefleet_core.alerts.model import TimeWindow
from noisefleet_core.alerts.timewindows import (
    active_intervals,
    active_mask,
    clock_window_bounds,
    period_windows,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DAY_S = 86400.0


def grid(step_s: float, t_from: float, t_to: float) -> FloatArray:
    """Sample times: the epoch multiples of step_s in (t_from, t_to]."""
    first = int(np.floor(t_from / step_s)) + 1
    last = int(np.floor(t_to / step_s))
    return np.arange(first, last + 1, dtype=np.float64) * step_s


@dataclass(frozen=True)
class Windows:
    """For each sample: the data window [lo, t), its full length, whether it is complete."""

    times: FloatArray
    lo: FloatArray
    """Rows with start in [lo, t) belong to the sample (so far, for aligned windows)."""
    length: FloatArray
    """The whole window's real length in seconds (an aligned window's, not so far)."""
    end: FloatArray
    """When the window ends (rolling: the sample time)."""
    active: BoolArray
    aligned: bool
    """clock/period: values are "so far" and only complete at the window's last sample."""

    @property
    def complete(self) -> BoolArray:
        """The sample closes its window."""
        result: BoolArray = self.times >= self.end
        return result


def sample_windows(
    align: str,
    window_s: float,
    step_s: float,
    active: Sequence[TimeWindow],
    timezone: str,
    times: FloatArray,
) -> Windows:
    """The windows of the samples at ``times`` (see the module docstring)."""
    starts = times - step_s
    if times.size == 0:
        return Windows(times, times, times, times, np.zeros(0, dtype=np.bool_), align != "rolling")
    t_min, t_max = float(starts[0]), float(times[-1])
    if align == "period":
        periods = _periods(active, timezone, t_min, t_max)
        index = np.searchsorted(periods[:, 0], starts, side="right") - 1
        safe = np.maximum(index, 0)
        lo, end = periods[safe, 0], periods[safe, 1]
        inside: BoolArray = (index >= 0) & (starts < end)
        return Windows(times, lo, end - lo, end, inside, aligned=True)
    if active:
        mask = active_mask(active_intervals(active, timezone, t_min, t_max), starts)
    else:
        mask = np.ones(times.shape, dtype=np.bool_)
    if align == "clock":
        lo, end = clock_window_bounds(starts, window_s, timezone)
        return Windows(times, lo, end - lo, end, mask, aligned=True)
    length = np.full(times.shape, float(window_s))
    return Windows(times, times - window_s, length, times, mask, aligned=False)


def _periods(active: Sequence[TimeWindow], timezone: str, t_min: float, t_max: float) -> FloatArray:
    """All occurrences of the active windows around [t_min, t_max], sorted by start (whole
    local days when there are none)."""
    windows = active or (TimeWindow(),)
    parts = [period_windows(w, timezone, t_min - DAY_S, t_max + 1.0) for w in windows]
    periods = np.concatenate(parts) if parts else np.zeros((0, 2))
    if periods.size == 0:
        return np.array([[np.inf, np.inf]])
    return periods[np.argsort(periods[:, 0], kind="stable")]


@dataclass(frozen=True)
class RowIndex:
    """Rows of a series (sorted starts) and which rows each sample's window holds."""

    lo: IntArray
    """First row of each window."""
    hi: IntArray
    """One past the last row of each window."""

    @classmethod
    def of(cls, row_starts: FloatArray, lo: FloatArray, hi: FloatArray) -> RowIndex:
        """Rows with start in [lo, hi) per sample."""
        return cls(
            np.searchsorted(row_starts, lo, side="left").astype(np.int64),
            np.searchsorted(row_starts, hi, side="left").astype(np.int64),
        )

    @property
    def count(self) -> IntArray:
        result: IntArray = self.hi - self.lo
        return result


def range_sum(values: FloatArray, rows: RowIndex) -> FloatArray:
    """Sum of ``values`` over each window's rows."""
    cumulative = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
    result: FloatArray = cumulative[rows.hi] - cumulative[rows.lo]
    return result


def range_max(values: FloatArray, rows: RowIndex) -> FloatArray:
    """Maximum of ``values`` (NaN ignored) over each window's rows; NaN for an empty window."""
    out = np.full(rows.lo.shape, np.nan)
    size = int(values.size)
    filled = rows.hi > rows.lo
    if size == 0 or not bool(filled.any()):
        return out
    levels = [np.asarray(values, dtype=np.float64)]
    width = 1
    while 2 * width <= size:
        previous = levels[-1]
        levels.append(np.fmax(previous[:-width], previous[width:]))
        width *= 2
    table = np.full((len(levels), size), np.nan)
    for j, level in enumerate(levels):
        table[j, : level.size] = level
    lo, hi = rows.lo[filled], rows.hi[filled]
    j = np.floor(np.log2(hi - lo)).astype(np.int64)
    out[filled] = np.fmax(table[j, lo], table[j, hi - (1 << j)])
    return out


def ramp(spans: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0, 1, ..., n-1 for each n in spans, concatenated."""
    total = int(spans.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(spans) - spans, spans)
    result: npt.NDArray[np.int64] = np.arange(total, dtype=np.int64) - offsets
    return result
