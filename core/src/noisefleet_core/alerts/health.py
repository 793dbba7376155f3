"""Health rules: a sensor check per minute sample, value 1.0 while it fails, 0.0 while it passes.

The sample at t looks at what arrived before t: the last heartbeat and the last status with a
time < t, the minutes starting in [t - after_s, t) (stuck, noise_floor: every one of those
minutes must be there and show the state; a gap is offline's business) and the minute
[t - 60, t) (clipping). For ``offline`` the sample time is "now" (the server evaluates health
rules up to the wall clock). NaN where there is nothing to judge (no heartbeat yet for the
heartbeat checks, no noise floor known for noise_floor): never a condition.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from noisefleet_core.alerts.conditions import Samples, conditions
from noisefleet_core.alerts.model import HealthRule
from noisefleet_core.alerts.series import HealthSeries, MinuteSeries, SensorData
from noisefleet_core.alerts.windows import RowIndex, Windows, range_sum

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

DAY_S = 86400.0
MINUTE_S = 60.0
_OFFLINE = frozenset({"offline", "stopped"})


def _latest(at: FloatArray, times: FloatArray) -> IntArray:
    """Index of the last row with time < t per sample (-1: none)."""
    result: IntArray = np.searchsorted(at, times, side="left").astype(np.int64) - 1
    return result


def _pick(column: BoolArray, index: IntArray) -> FloatArray:
    """column[index] as 1.0/0.0, NaN where index is -1."""
    out = np.full(index.shape, np.nan)
    if column.size:
        seen = index >= 0
        out[seen] = column[index[seen]].astype(np.float64)
    return out


def _status_is(health: HealthSeries, names: frozenset[str], times: FloatArray) -> BoolArray:
    flags = np.fromiter((s in names for s in health.status), np.bool_, len(health.status))
    index = _latest(health.status_at, times)
    result: BoolArray = np.nan_to_num(_pick(flags, index), nan=0.0) > 0
    return result


def _all_minutes(
    rule: HealthRule, minutes: MinuteSeries, state: BoolArray, times: FloatArray
) -> FloatArray:
    """1.0 where all minutes of [t - after_s, t) are present and in the state."""
    rows = RowIndex.of(minutes.start, times - rule.after_s, times)
    expected = max(1, int(np.ceil(rule.after_s / MINUTE_S)))
    hits = range_sum(state.astype(np.float64), rows)
    result: FloatArray = ((rows.count >= expected) & (hits >= rows.count)).astype(np.float64)
    return result


def _rising_runs(depth: IntArray) -> IntArray:
    """Per heartbeat, how many consecutive increases of the depth end at it."""
    rises = np.concatenate(([False], np.diff(depth) > 0))
    count = np.cumsum(rises)
    # The count at the last heartbeat that did not rise, carried forward.
    base = np.maximum.accumulate(np.where(~rises, count, 0))
    result: IntArray = (count - base).astype(np.int64)
    return result


def health_values(rule: HealthRule, data: SensorData, times: FloatArray) -> FloatArray:
    """The check's value per sample time (see the module docstring)."""
    health, minutes = data.health, data.minutes
    beat = _latest(health.heartbeat_at, times)
    check = rule.check
    if check == "offline":
        silent = np.ones(times.shape, dtype=np.bool_)
        seen = beat >= 0
        silent[seen] = times[seen] - health.heartbeat_at[beat[seen]] > rule.after_s
        return (silent | _status_is(health, _OFFLINE, times)).astype(np.float64)
    if check == "stuck":
        spread = minutes.laf10_db - minutes.laf90_db
        peak = minutes.lafmax_db - minutes.laf90_db
        flat = (spread < rule.flat_db) & (peak < 2 * rule.flat_db)
        return _all_minutes(rule, minutes, flat, times)
    if check == "noise_floor":
        if data.noise_floor_db is None:
            return np.full(times.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            laeq = 10.0 * np.log10(minutes.energy / minutes.measured_s)
        quiet = laeq <= data.noise_floor_db + rule.margin_db
        return _all_minutes(rule, minutes, quiet, times)
    if check == "clipping":
        rows = RowIndex.of(minutes.start, times - MINUTE_S, times)
        clipped = range_sum(minutes.clipped_samples.astype(np.float64), rows)
        return (clipped > rule.max_clipped).astype(np.float64)
    if check == "outbox_growing":
        depth = health.outbox_depth
        rising = _rising_runs(depth) >= rule.heartbeats - 1
        if rule.heartbeats < 2:
            rising[:] = False
        return _pick((depth > rule.max_depth) | rising, beat)
    if check == "clock_unsynced":
        return _pick(~health.clock_synced, beat)
    if check == "calibration_age":
        if health.calibration_date is None:
            return np.full(times.shape, 1.0 if rule.missing_fires else 0.0)
        age = times - health.calibration_date
        return (age > rule.max_age_days * DAY_S).astype(np.float64)
    assert check == "degraded"
    errors = np.fromiter(
        (e is not None for e in health.source_error), np.bool_, len(health.source_error)
    )
    source = np.nan_to_num(_pick(errors, beat), nan=0.0) > 0
    return (source | _status_is(health, frozenset({"degraded"}), times)).astype(np.float64)


def health_samples(rule: HealthRule, data: SensorData, win: Windows) -> Samples:
    """Samples of a health rule (1.0 failing, 0.0 passing, NaN nothing to judge or inactive)."""
    values = np.where(win.active, health_values(rule, data, win.times), np.nan)
    on_tier, hold_tier = conditions(values, [t.limit for t in rule.tiers])
    return Samples(win.times, values, on_tier, hold_tier, values)
