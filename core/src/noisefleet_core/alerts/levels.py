"""Level rules: a level metric over each sample's window, from minute data or 1-s records.

Steps of ``level_samples``:
1. the rows: minutes for windows of a minute or more, records below (``rule.step_s``);
2. per window: energy and measured seconds by cumulative sums (penalties multiply the energy of
   the rows starting inside their windows), maxima by a sparse table, LAF90 from merged
   histograms;
3. the value: LAeq = 10 lg(E / measured) once measured >= min_coverage x window (rolling);
   aligned windows report the value so far, and their condition value is what is certain: for
   LAeq 10 lg(E_so_far / window) until the window's last sample, then the window's LAeq; for
   LAFmax/LCpeak the maximum so far (an exceedance measured is an exceedance); for LAF90 only the
   last sample's value;
4. ``reference="ambient_laf90"`` (NYC): the value is the level minus the ambient LAF90 over
   ``reference_window_s`` before the window, so the limits are relative (+10 dB);
5. inactive samples are NaN.

LAF90 over more than one row needs per-minute histograms (``MinuteSeries.hist_*``): LN of a
period comes from its short-interval levels, never from averaging LN. Without histograms LAF90
has a value only where a window is exactly one row (a 60-s window on minutes, a record's own
length on records); otherwise it is NaN and the rule never fires.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from noisefleet_core.alerts.conditions import Samples, conditions
from noisefleet_core.alerts.model import LevelRule, Penalty
from noisefleet_core.alerts.series import MinuteSeries, SensorData
from noisefleet_core.alerts.timewindows import active_intervals, active_mask
from noisefleet_core.alerts.windows import RowIndex, Windows, range_max, range_sum

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PERCENT_EXCEEDED_90 = 90.0


def _level(energy: FloatArray, seconds: FloatArray) -> FloatArray:
    """10 lg(energy / seconds), NaN where either is not positive."""
    ok = (energy > 0) & (seconds > 0)
    out = np.full(energy.shape, np.nan)
    out[ok] = 10.0 * np.log10(energy[ok] / seconds[ok])
    return out


def penalty_factor(
    penalties: tuple[Penalty, ...], timezone: str, row_starts: FloatArray
) -> FloatArray:
    """Per row, 10^(sum of add_db of the penalty windows its start lies in / 10)."""
    added = np.zeros(row_starts.shape)
    if row_starts.size:
        t_min, t_max = float(row_starts[0]), float(row_starts[-1]) + 1.0
        for penalty in penalties:
            inside = active_mask(
                active_intervals((penalty.window,), timezone, t_min, t_max), row_starts
            )
            added += np.where(inside, penalty.add_db, 0.0)
    result: FloatArray = np.power(10.0, added / 10.0)
    return result


def histogram_percentile(
    minutes: MinuteSeries, rows: RowIndex, percent_exceeded: float, want: npt.NDArray[np.bool_]
) -> FloatArray:
    """LN of the merged minute histograms of each wanted window (NaN if none or no counts);
    the same reading as ``acoustics.histogram.exceeded_level``."""
    out = np.full(rows.lo.shape, np.nan)
    if minutes.hist_counts is None or minutes.hist_first is None or minutes.hist_width_db is None:
        return out
    want = want & (rows.hi > rows.lo)
    if not bool(want.any()):
        return out
    lo, hi = rows.lo[want], rows.hi[want]
    first_row, last_row = int(lo.min()), int(hi.max())
    counts = minutes.hist_counts[first_row:last_row]
    firsts = minutes.hist_first[first_row:last_row]
    lengths = np.array([c.size for c in counts], dtype=np.int64)
    if int(lengths.sum()) == 0:
        return out
    base = int(firsts[lengths > 0].min())
    top = int((firsts + lengths)[lengths > 0].max())
    dense = np.zeros((len(counts) + 1, top - base), dtype=np.int64)
    row_of = np.repeat(np.arange(1, len(counts) + 1), lengths)
    column = np.concatenate([np.arange(n) for n in lengths.tolist()]) + np.repeat(
        firsts - base, lengths
    )
    dense[row_of, column] = np.concatenate(counts)
    cumulative = np.cumsum(dense, axis=0)
    merged = (cumulative[hi - first_row] - cumulative[lo - first_row]).astype(np.float64)
    total = merged.sum(axis=1)
    target = (100.0 - percent_exceeded) / 100.0 * total
    running = np.cumsum(merged, axis=1)
    reached = (running >= target[:, None]) & (merged > 0)
    index = np.argmax(reached, axis=1)
    pick = np.arange(index.size)
    in_bin = merged[pick, index]
    before = running[pick, index] - in_bin
    fraction = np.clip((target - before) / np.where(in_bin > 0, in_bin, 1.0), 0.0, 1.0)
    width = minutes.hist_width_db
    value = (base + index) * width + fraction * width
    out[want] = np.where(total > 0, value, np.nan)
    return out


def _single_row(
    row_levels: FloatArray,
    row_starts: FloatArray,
    row_lengths: FloatArray,
    rows: RowIndex,
    win: Windows,
) -> FloatArray:
    """A row's own value where the window is exactly that row, else NaN."""
    out = np.full(rows.lo.shape, np.nan)
    if row_starts.size == 0:
        return out
    safe = np.minimum(rows.lo, row_starts.size - 1)
    exact = (rows.count == 1) & (row_starts[safe] == win.lo) & (row_lengths[safe] == win.length)
    out[exact] = row_levels[safe][exact]
    return out


def _ambient_laf90(rule: LevelRule, data: SensorData, win: Windows) -> FloatArray:
    """LAF90 over [lo - reference_window_s, lo) from minutes (NaN without enough coverage)."""
    minutes = data.minutes
    hi = win.lo
    rows = RowIndex.of(minutes.start, hi - rule.reference_window_s, hi)
    measured = range_sum(minutes.measured_s, rows)
    enough = measured >= rule.min_coverage * rule.reference_window_s
    if minutes.has_histograms:
        value = histogram_percentile(minutes, rows, PERCENT_EXCEEDED_90, enough)
    elif rule.reference_window_s == 60.0:
        reference = Windows(win.times, hi - 60.0, np.full(hi.shape, 60.0), hi, win.active, False)
        value = _single_row(
            minutes.laf90_db, minutes.start, np.full(minutes.start.shape, 60.0), rows, reference
        )
    else:
        value = np.full(hi.shape, np.nan)
    return np.where(enough, value, np.nan)


def level_samples(rule: LevelRule, data: SensorData, win: Windows) -> Samples:
    """Samples of a level rule on the given windows (see the module docstring)."""
    if rule.step_s >= 60:
        minutes = data.minutes
        starts, energy, measured = minutes.start, minutes.energy, minutes.measured_s
        lengths = np.full(starts.shape, 60.0)
        lafmax, lcpeak, laf90 = minutes.lafmax_db, minutes.lcpeak_db, minutes.laf90_db
    else:
        records = data.records
        starts, energy, measured = records.start, records.energy, records.measured_s
        lengths = records.duration_s
        lafmax, lcpeak, laf90 = records.lafmax_db, records.lcpeak_db, records.laf90_db
    rows = RowIndex.of(starts, win.lo, win.times)
    covered = range_sum(measured, rows)
    enough = covered >= rule.min_coverage * win.length
    complete = win.complete
    if rule.metric == "laeq":
        if rule.penalties:
            energy = energy * penalty_factor(rule.penalties, data.timezone, starts)
        window_energy = range_sum(energy, rows)
        value = _level(window_energy, covered)
        if win.aligned:
            certain = _level(window_energy, win.length)
            condition = np.where(complete & enough, value, certain)
        else:
            value = np.where(enough, value, np.nan)
            condition = value
    elif rule.metric in ("lafmax", "lcpeak"):
        value = range_max(lafmax if rule.metric == "lafmax" else lcpeak, rows)
        if not win.aligned:
            value = np.where(enough, value, np.nan)
        condition = value
    else:
        wanted = enough & (complete if win.aligned else True)
        if rule.step_s >= 60 and data.minutes.has_histograms:
            value = histogram_percentile(data.minutes, rows, PERCENT_EXCEEDED_90, wanted)
        else:
            value = np.where(wanted, _single_row(laf90, starts, lengths, rows, win), np.nan)
        condition = value
    if rule.reference == "ambient_laf90":
        ambient = _ambient_laf90(rule, data, win)
        value = value - ambient
        condition = condition - ambient
    value = np.where(win.active, value, np.nan)
    condition = np.where(win.active, condition, np.nan)
    on_tier, hold_tier = conditions(condition, [t.limit for t in rule.tiers], rule.hysteresis_db)
    return Samples(win.times, value, on_tier, hold_tier, condition)
