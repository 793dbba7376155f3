"""What each rule computes on its grid of sample times: ``compute_samples``.

Steps of ``compute_samples(rule, data, t_from, t_to)``:
1. the grid: epoch multiples of ``rule.step_s`` in (t_from, t_to];
2. the window of each sample (``windows.sample_windows``: rolling, clock or period, active);
3. the values by rule kind: ``levels`` (level), ``budget`` (budget), ``health`` (health), and
   here the event rules;
4. the condition codes per tier (``conditions``), NaN (no value) never being a condition.

Event rules: an event qualifies when its label is one of ``labels``, its confidence is at least
``min_confidence`` (an event without a confidence qualifies only when that is 0) and its LAeq /
LAFmax reach ``min_laeq_db`` / ``min_lafmax_db`` when given. ``event``: value 1.0 while a
qualifying event [start, end) overlaps the sample's second [t - 1, t), peak its LAFmax (its
confidence when it has no LAFmax). ``event_count``: value = number of qualifying events starting
in the window (so far, for clock windows: counts only grow, so an exceedance is certain at once).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from noisefleet_core.alerts.budget import budget_samples
from noisefleet_core.alerts.conditions import Samples, conditions
from noisefleet_core.alerts.health import health_samples
from noisefleet_core.alerts.levels import level_samples
from noisefleet_core.alerts.model import (
    BudgetRule,
    EventCountRule,
    EventRule,
    HealthRule,
    LevelRule,
    Rule,
)
from noisefleet_core.alerts.series import EventSeries, SensorData
from noisefleet_core.alerts.windows import RowIndex, Windows, grid, ramp, sample_windows

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def compute_samples(rule: Rule, data: SensorData, t_from: float, t_to: float) -> Samples:
    """The rule's samples at its grid times t with t_from < t <= t_to (see the module docstring).
    ``data`` must hold the rule's ``lookback_s`` before t_from."""
    step = rule.step_s
    times = grid(step, t_from, t_to)
    if isinstance(rule, HealthRule):
        rolling = sample_windows("rolling", step, step, rule.active, data.timezone, times)
        return health_samples(rule, data, rolling)
    if isinstance(rule, EventRule):
        rolling = sample_windows("rolling", step, step, rule.active, data.timezone, times)
        return event_samples(rule, data.events, rolling)
    win = sample_windows(rule.align, rule.window_s, step, rule.active, data.timezone, times)
    if isinstance(rule, LevelRule):
        return level_samples(rule, data, win)
    if isinstance(rule, EventCountRule):
        return event_count_samples(rule, data.events, win)
    assert isinstance(rule, BudgetRule)
    return budget_samples(rule, data, win)


def qualifying(
    events: EventSeries,
    labels: frozenset[str],
    min_confidence: float,
    min_laeq_db: float | None = None,
    min_lafmax_db: float | None = None,
) -> BoolArray:
    """Which events qualify (see the module docstring)."""
    ok = np.fromiter((label in labels for label in events.label), np.bool_, len(events))
    confidence = events.confidence
    if min_confidence > 0:
        ok &= ~np.isnan(confidence) & (np.nan_to_num(confidence, nan=-1.0) >= min_confidence)
    if min_laeq_db is not None:
        ok &= np.nan_to_num(events.laeq_db, nan=-np.inf) >= min_laeq_db
    if min_lafmax_db is not None:
        ok &= np.nan_to_num(events.lafmax_db, nan=-np.inf) >= min_lafmax_db
    result: BoolArray = ok
    return result


def event_samples(rule: EventRule, events: EventSeries, win: Windows) -> Samples:
    """1.0 while a qualifying event overlaps [t - step, t), else 0.0; peak: its LAFmax."""
    times = win.times
    values = np.zeros(times.shape)
    peaks = np.full(times.shape, np.nan)
    ok = qualifying(events, rule.labels, rule.min_confidence, rule.min_laeq_db, rule.min_lafmax_db)
    if times.size and bool(ok.any()):
        step = rule.step_s
        # Sample i covers [t_i - step, t_i): it overlaps [start, end) iff t_i > start and
        # t_i - step < end; a zero-length event counts in the second it lies in.
        start = events.start[ok]
        end = np.maximum(events.end[ok], np.nextafter(start, np.inf))
        first = np.searchsorted(times, start, side="right")
        stop = np.searchsorted(times - step, end, side="left")
        spans = np.maximum(stop - first, 0)
        index = np.repeat(first, spans) + ramp(spans)
        values[index] = 1.0
        peak = np.where(np.isnan(events.lafmax_db[ok]), events.confidence[ok], events.lafmax_db[ok])
        np.fmax.at(peaks, index, np.repeat(peak, spans))
    values = np.where(win.active, values, np.nan)
    on_tier, hold_tier = conditions(values, [t.limit for t in rule.tiers])
    return Samples(times, values, on_tier, hold_tier, np.where(values > 0, peaks, np.nan))


def event_count_samples(rule: EventCountRule, events: EventSeries, win: Windows) -> Samples:
    """Number of qualifying event starts in each window (so far)."""
    starts = events.start[qualifying(events, rule.labels, rule.min_confidence)]
    rows = RowIndex.of(starts, win.lo, win.times)
    values = np.where(win.active, rows.count.astype(np.float64), np.nan)
    on_tier, hold_tier = conditions(values, [t.limit for t in rule.tiers])
    return Samples(win.times, values, on_tier, hold_tier, values)
