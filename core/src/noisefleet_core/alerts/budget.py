"""Budget rules: how long until an aligned window's LAeq reaches its limit at the current level.

The maths (spec section 1), in energies (10^(L/10) x seconds):
- the window may hold limit_energy x W, W its real length (an hour, the 16-h day);
- remaining = limit_energy x W - E_so_far, E_so_far the energy measured in the window so far;
- at the current level L_now (the LAeq of the last ``basis_s``) that lasts
  t = remaining / 10^(L_now/10) seconds;
- the rule warns when t <= warn_within_s and t < the time left in the window (else the window
  ends first, below the limit), and at once (t = 0) when the limit is already certain
  (E_so_far >= limit_energy x W: the window's LAeq can only end above it).

Example: 1-h limit 65 dB, 30 min at 65 dB: remaining = 10^6.5 x 1800; at 70 dB that lasts
1800 x 10^-0.5 = 569 s (9.5 min), well within the 30 min left.
The sample value is t in seconds (NaN without a current level, unless already certain); the
alert's peak tracks the current level.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from noisefleet_core.alerts.conditions import Samples
from noisefleet_core.alerts.model import BudgetRule
from noisefleet_core.alerts.series import SensorData
from noisefleet_core.alerts.windows import RowIndex, Windows, range_sum

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def energy_rate(level_db: FloatArray | float) -> FloatArray:
    """Energy per second of a level: 10^(L/10)."""
    result: FloatArray = np.power(10.0, np.asarray(level_db, dtype=np.float64) / 10.0)
    return result


def seconds_to_limit(
    energy_so_far: FloatArray, window_s: FloatArray, limit_db: float, current_db: FloatArray
) -> FloatArray:
    """Seconds at the current level until the window's energy reaches the limit's (0 if it
    already has; NaN without a current level)."""
    remaining = energy_rate(limit_db) * window_s - energy_so_far
    with np.errstate(invalid="ignore"):
        seconds = remaining / energy_rate(current_db)
    result: FloatArray = np.where(remaining <= 0, 0.0, seconds)
    return result


def budget_warns(seconds: FloatArray, time_left_s: FloatArray, warn_within_s: float) -> BoolArray:
    """Whether each prediction warns: certain (0), or soon enough and before the window ends."""
    with np.errstate(invalid="ignore"):
        result: BoolArray = (seconds == 0) | ((seconds <= warn_within_s) & (seconds < time_left_s))
    return result


def budget_samples(rule: BudgetRule, data: SensorData, win: Windows) -> Samples:
    """Samples of a budget rule on its aligned windows, from minute data."""
    minutes = data.minutes
    times = win.times
    so_far = range_sum(minutes.energy, RowIndex.of(minutes.start, win.lo, times))
    basis = RowIndex.of(minutes.start, times - rule.basis_s, times)
    basis_energy = range_sum(minutes.energy, basis)
    basis_measured = range_sum(minutes.measured_s, basis)
    current = np.full(times.shape, np.nan)
    ok = (basis_energy > 0) & (basis_measured > 0)
    current[ok] = 10.0 * np.log10(basis_energy[ok] / basis_measured[ok])
    seconds = seconds_to_limit(so_far, win.length, rule.limit_db, current)
    seconds = np.where(win.active, seconds, np.nan)
    warns = budget_warns(seconds, win.end - times, rule.warn_within_s) & win.active
    codes = np.where(warns, 0, -1).astype(np.int64)
    return Samples(times, seconds, codes, codes.copy(), np.where(win.active, current, np.nan))
