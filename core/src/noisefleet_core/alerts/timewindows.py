"""Local time windows of the day as UTC epoch-second intervals, correct across daylight saving.

A rule's windows are local wall-clock times in the site's zone; the core works in UTC epoch
seconds. Each local day touched is converted on its own (a handful of conversions per day, cached),
and then numpy does the rest: ``active_mask`` and ``clock_window_bounds`` are one ``searchsorted``
over the sample times.

How local times become instants (the choices, consistently everywhere):
- A window is as long in real time as the clocks say: 22:00-07:00 lasts 10 h on the night clocks
  go back and 8 h on the night they go forward.
- A local time that does not exist (02:30 on the spring-forward day in Europe/Berlin) is the next
  valid instant, the moment of the change (03:00 CEST): a window 02:00-03:00 that day is empty,
  and 02:30-05:00 starts at 03:00.
- A local time that occurs twice (02:30 on the fall-back day) is its first occurrence (``fold=0``,
  as ``datetime`` does), so a window starting then includes the repeated hour.
- Clock-aligned windows of ``window_s`` <= 3600 are real time: local midnight + k * window_s
  elapsed seconds, so a 1-h window is each real hour (the repeated 02:00 hour is a window of its
  own, the skipped one does not exist) and every window has its nominal length. Longer windows
  start at local wall times midnight + k * window_s (an 8-h window 00:00-08:00 lasts 7 or 9 h on a
  DST day). A day's last window always ends at the next local midnight.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from numpy.typing import ArrayLike, NDArray

from noisefleet_core.alerts.errors import AlertError
from noisefleet_core.alerts.model import MINUTES_PER_DAY, TimeWindow

_SECONDS_PER_DAY = 86400


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise AlertError(f"unknown time zone {timezone!r}") from error


def _local_date(zone: ZoneInfo, t: float) -> date:
    return datetime.fromtimestamp(t, zone).date()


@lru_cache(maxsize=65536)
def _instant(timezone: str, day_ordinal: int, seconds: int) -> float:
    """UTC epoch of a local wall time ``seconds`` after midnight of a day (may pass 86400)."""
    zone = ZoneInfo(timezone)
    extra, seconds = divmod(seconds, _SECONDS_PER_DAY)
    day = date.fromordinal(day_ordinal + extra)
    naive = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
    later = naive.replace(tzinfo=zone).timestamp()  # fold=0: the first occurrence
    if datetime.fromtimestamp(later, zone).replace(tzinfo=None) == naive:
        return later
    # In a gap fold=0 applies the offset from before the change, which lands after it; fold=1
    # lands before it. The change is the first second between them with the later offset.
    earlier = naive.replace(tzinfo=zone, fold=1).timestamp()
    offset = datetime.fromtimestamp(later, zone).utcoffset()
    low, high = int(earlier), int(later)
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return float(high)


def local_instant(timezone: str, day: date, seconds: int) -> float:
    """UTC epoch seconds of local ``day`` 00:00 + ``seconds`` of wall time, by the rules above."""
    _zone(timezone)
    return _instant(timezone, day.toordinal(), seconds)


def _days(zone: ZoneInfo, t_from: float, t_to: float) -> list[date]:
    """Local days from the one before ``t_from`` (its windows may reach past midnight) on."""
    first = _local_date(zone, t_from) - timedelta(days=1)
    last = _local_date(zone, t_to)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _occurrences(
    window: TimeWindow, timezone: str, t_from: float, t_to: float
) -> list[tuple[float, float]]:
    zone = _zone(timezone)
    end_min = window.end_min + (MINUTES_PER_DAY if window.crosses_midnight else 0)
    out = []
    for day in _days(zone, t_from, t_to):
        if day.weekday() not in window.days:
            continue
        start = _instant(timezone, day.toordinal(), window.start_min * 60)
        end = _instant(timezone, day.toordinal(), end_min * 60)
        if end > start and end > t_from and start < t_to:
            out.append((start, end))
    return out


def _array(pairs: Sequence[tuple[float, float]]) -> NDArray[np.float64]:
    return np.array(pairs, dtype=np.float64).reshape(-1, 2)


def period_windows(
    window: TimeWindow, timezone: str, t_from: float, t_to: float
) -> NDArray[np.float64]:
    """Each occurrence [start, end) of a window that overlaps [t_from, t_to), whole (not cut),
    in order: the periods of ``align="period"``. Shape (n, 2), UTC epoch seconds."""
    return _array(_occurrences(window, timezone, t_from, t_to))


def active_intervals(
    windows: Sequence[TimeWindow], timezone: str, t_from: float, t_to: float
) -> NDArray[np.float64]:
    """Sorted, merged [start, end) intervals within [t_from, t_to) in which any window is
    active; no windows means always. Shape (n, 2), UTC epoch seconds."""
    if t_to <= t_from:
        return _array([])
    if not windows:
        return _array([(t_from, t_to)])
    pieces = sorted(
        (max(start, t_from), min(end, t_to))
        for window in windows
        for start, end in _occurrences(window, timezone, t_from, t_to)
    )
    merged: list[tuple[float, float]] = []
    for start, end in pieces:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return _array(merged)


def active_mask(intervals: NDArray[np.float64], times: ArrayLike) -> NDArray[np.bool_]:
    """Whether each time lies in one of the sorted, disjoint [start, end) intervals.

    A sample at t describes [t - step, t): pass ``t - step`` to ask whether it is active."""
    times = np.asarray(times, dtype=np.float64)
    if len(intervals) == 0:
        return np.zeros(times.shape, dtype=np.bool_)
    index = np.searchsorted(intervals[:, 0], times, side="right") - 1
    inside = index >= 0
    ends = intervals[np.maximum(index, 0), 1]
    mask: NDArray[np.bool_] = inside & (times < ends)
    return mask


def _day_boundaries(timezone: str, day: date, window_s: int) -> NDArray[np.float64]:
    ordinal = day.toordinal()
    midnight = _instant(timezone, ordinal, 0)
    if window_s <= 3600:
        next_midnight = _instant(timezone, ordinal + 1, 0)
        return midnight + np.arange(0.0, next_midnight - midnight, float(window_s))
    return np.array(
        [_instant(timezone, ordinal, k * window_s) for k in range(_SECONDS_PER_DAY // window_s)]
    )


def _clock_bounds(
    window_s: float, timezone: str, t_min: float, t_max: float
) -> NDArray[np.float64]:
    """Ascending window boundaries covering the local days from before t_min to after t_max."""
    width = int(window_s)
    if width != window_s or width <= 0 or _SECONDS_PER_DAY % width:
        raise AlertError(f"a clock window must divide 86400 s, got {window_s}")
    zone = _zone(timezone)
    first = _local_date(zone, t_min) - timedelta(days=1)
    last = _local_date(zone, t_max) + timedelta(days=1)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    closing = np.array([_instant(timezone, last.toordinal() + 1, 0)])
    return np.concatenate([*(_day_boundaries(timezone, day, width) for day in days), closing])


def clock_window_bounds(
    times: ArrayLike, window_s: float, timezone: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Start and end (UTC epoch s) of the local clock-aligned window [start, end) containing each
    time, for a ``window_s`` that divides 86400 (see the module docstring for DST days).

    A sample at t describes [t - step, t): pass ``t - step`` for the window of a sample."""
    times = np.asarray(times, dtype=np.float64)
    if times.size == 0:
        _clock_bounds(window_s, timezone, 0.0, 0.0)  # still refuse a bad window or zone
        return np.empty(times.shape), np.empty(times.shape)
    bounds = _clock_bounds(window_s, timezone, float(times.min()), float(times.max()))
    index = np.searchsorted(bounds, times, side="right") - 1
    return bounds[index], bounds[index + 1]


def clock_window_start(times: ArrayLike, window_s: float, timezone: str) -> NDArray[np.float64]:
    """The start of the local clock-aligned window containing each time (see
    ``clock_window_bounds``)."""
    return clock_window_bounds(times, window_s, timezone)[0]


def clock_windows(
    window_s: float, timezone: str, t_from: float, t_to: float
) -> NDArray[np.float64]:
    """Every clock-aligned window [start, end) overlapping [t_from, t_to), in order: shape
    (n, 2), UTC epoch seconds."""
    bounds = _clock_bounds(window_s, timezone, t_from, max(t_from, t_to))
    pairs = np.column_stack([bounds[:-1], bounds[1:]])
    return pairs[(pairs[:, 1] > t_from) & (pairs[:, 0] < t_to)]
