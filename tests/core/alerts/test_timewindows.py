"""Local time windows as UTC intervals, worked by hand across DST in Berlin and New York.

Europe/Berlin 2026: clocks go forward on Sunday 29 March (02:00 CET -> 03:00 CEST, at 01:00Z)
and back on Sunday 25 October (03:00 CEST -> 02:00 CET, at 01:00Z). America/New_York 2026:
forward on Sunday 8 March (02:00 EST -> 03:00 EDT, at 07:00Z), back on Sunday 1 November
(02:00 EDT -> 01:00 EST, at 06:00Z).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.alerts.errors import AlertError
from noisefleet_core.alerts.rules import TimeWindow
from noisefleet_core.alerts.timewindows import (
    active_intervals,
    active_mask,
    clock_window_bounds,
    clock_window_start,
    clock_windows,
    local_instant,
    period_windows,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
HOUR = 3600.0
NIGHT = TimeWindow(start_min=22 * 60, end_min=7 * 60)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def hours(intervals: np.ndarray) -> list[float]:
    return [(end - start) / HOUR for start, end in intervals]


@pytest.mark.parametrize(
    ("zone", "evening", "start", "end"),
    [
        # Berlin, normal night: 22:00 CEST (20:00Z) to 07:00 CEST (05:00Z), 9 h.
        (BERLIN, (2026, 6, 13), utc(2026, 6, 13, 20), utc(2026, 6, 14, 5)),
        # Clocks go forward: 22:00 CET (21:00Z) to 07:00 CEST (05:00Z), 8 h.
        (BERLIN, (2026, 3, 28), utc(2026, 3, 28, 21), utc(2026, 3, 29, 5)),
        # Clocks go back: 22:00 CEST (20:00Z) to 07:00 CET (06:00Z), 10 h.
        (BERLIN, (2026, 10, 24), utc(2026, 10, 24, 20), utc(2026, 10, 25, 6)),
        # New York forward: 22:00 EST (03:00Z) to 07:00 EDT (11:00Z), 8 h.
        (NEW_YORK, (2026, 3, 7), utc(2026, 3, 8, 3), utc(2026, 3, 8, 11)),
        # New York back: 22:00 EDT (02:00Z) to 07:00 EST (12:00Z), 10 h.
        (NEW_YORK, (2026, 10, 31), utc(2026, 11, 1, 2), utc(2026, 11, 1, 12)),
    ],
)
def test_a_night_window_lasts_what_the_clocks_say(
    zone: str, evening: tuple[int, int, int], start: float, end: float
) -> None:
    noon = datetime(*evening, 12, tzinfo=ZoneInfo(zone)).timestamp()
    intervals = active_intervals([NIGHT], zone, noon, noon + 24 * HOUR)
    assert intervals.tolist() == [[start, end]]


def test_intervals_are_clipped_merged_and_sorted() -> None:
    evening = TimeWindow(start_min=20 * 60, end_min=22 * 60)
    t_from, t_to = utc(2026, 6, 13, 21), utc(2026, 6, 15, 0)
    intervals = active_intervals([NIGHT, evening], BERLIN, t_from, t_to)
    # 20:00-22:00 and 22:00-07:00 touch: one interval each evening, from 20:00 CEST (18:00Z).
    assert intervals.tolist() == [
        [t_from, utc(2026, 6, 14, 5)],
        [utc(2026, 6, 14, 18), t_to],
    ]
    assert intervals.dtype == np.float64
    assert intervals.shape == (2, 2)


def test_no_windows_is_always_and_empty_ranges_are_empty() -> None:
    assert active_intervals([], BERLIN, 10.0, 20.0).tolist() == [[10.0, 20.0]]
    assert active_intervals([NIGHT], BERLIN, 20.0, 10.0).shape == (0, 2)


def test_days_name_the_day_a_window_starts() -> None:
    friday_night = TimeWindow(frozenset({4}), 22 * 60, 7 * 60)
    # Week of Monday 8 June 2026 (CEST): only Friday 12 June 22:00 to Saturday 07:00.
    intervals = active_intervals([friday_night], BERLIN, utc(2026, 6, 8), utc(2026, 6, 15))
    assert intervals.tolist() == [[utc(2026, 6, 12, 20), utc(2026, 6, 13, 5)]]
    # A range starting on Saturday 03:00 still sees the end of Friday's night.
    late = active_intervals([friday_night], BERLIN, utc(2026, 6, 13, 1), utc(2026, 6, 14))
    assert late.tolist() == [[utc(2026, 6, 13, 1), utc(2026, 6, 13, 5)]]


def test_a_local_time_that_does_not_exist_is_the_moment_of_the_change() -> None:
    spring = date(2026, 3, 29)
    assert local_instant(BERLIN, spring, 2 * 3600 + 1800) == utc(2026, 3, 29, 1)  # 03:00 CEST
    assert local_instant(BERLIN, spring, 3 * 3600) == utc(2026, 3, 29, 1)
    assert local_instant(NEW_YORK, date(2026, 3, 8), 2 * 3600 + 1800) == utc(2026, 3, 8, 7)
    # 02:00-03:00 does not exist that night: the window is empty; 02:30-05:00 starts at 03:00.
    gap = TimeWindow(start_min=120, end_min=180)
    assert active_intervals([gap], BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)).size == 0
    late = TimeWindow(start_min=150, end_min=300)
    assert active_intervals(
        [late], BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)
    ).tolist() == [[utc(2026, 3, 29, 1), utc(2026, 3, 29, 3)]]


def test_a_local_time_that_occurs_twice_is_its_first_occurrence() -> None:
    autumn = date(2026, 10, 25)
    assert local_instant(BERLIN, autumn, 2 * 3600 + 1800) == utc(2026, 10, 25, 0, 30)  # CEST
    window = TimeWindow(start_min=150, end_min=240)  # 02:30 (CEST) to 04:00 (CET): 2.5 h
    intervals = active_intervals([window], BERLIN, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))
    assert intervals.tolist() == [[utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3)]]


def test_period_windows_are_whole_occurrences() -> None:
    day = TimeWindow(start_min=6 * 60, end_min=22 * 60)
    periods = period_windows(day, BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 30, 4))
    assert periods.tolist() == [
        [utc(2026, 3, 28, 5), utc(2026, 3, 28, 21)],  # 06:00-22:00 CET, not cut at 12:00Z
        [utc(2026, 3, 29, 4), utc(2026, 3, 29, 20)],  # CEST
    ]  # 30 March 06:00 CEST is 04:00Z, the end of the range: not overlapping
    assert hours(period_windows(NIGHT, BERLIN, utc(2026, 10, 24, 12), utc(2026, 10, 25, 1))) == [
        10.0
    ]


def test_active_mask_is_start_inclusive_end_exclusive() -> None:
    intervals = np.array([[10.0, 20.0], [30.0, 40.0]])
    times = np.array([0, 9.9, 10, 15, 19.9, 20, 25, 30, 39, 40, 50])
    expected = [False, False, True, True, True, False, False, True, True, False, False]
    assert active_mask(intervals, times).tolist() == expected
    assert active_mask(np.empty((0, 2)), times).tolist() == [False] * len(times)


def test_clock_hours_are_real_hours_across_dst() -> None:
    # The local day of 25 October 2026 in Berlin has 25 hours: 25 windows, each 3600 s.
    day_from, day_to = utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)
    windows = clock_windows(3600, BERLIN, day_from, day_to)
    assert len(windows) == 25
    assert set(hours(windows)) == {1.0}
    assert windows[0, 0] == day_from
    # Spring: 23 hours from 23:00Z to 22:00Z.
    assert len(clock_windows(3600, BERLIN, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))) == 23


def test_long_clock_windows_start_at_local_wall_times() -> None:
    # 8-h windows at local 00:00, 08:00, 16:00: the first one of 25 October lasts 9 h.
    windows = clock_windows(28800, BERLIN, utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert windows.tolist() == [
        [utc(2026, 10, 24, 22), utc(2026, 10, 25, 7)],
        [utc(2026, 10, 25, 7), utc(2026, 10, 25, 15)],
        [utc(2026, 10, 25, 15), utc(2026, 10, 25, 23)],
    ]
    # 2-h windows on 29 March: 00:00 CET (23:00Z), then 02:00 does not exist -> 03:00 CEST.
    spring = clock_windows(7200, BERLIN, utc(2026, 3, 28, 23), utc(2026, 3, 29, 3))
    assert spring.tolist() == [
        [utc(2026, 3, 28, 23), utc(2026, 3, 29, 1)],
        [utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)],  # 02:00 (= 03:00) to 04:00 CEST
        [utc(2026, 3, 29, 2), utc(2026, 3, 29, 4)],
    ]


def test_clock_window_start_in_new_york_and_quarter_hours() -> None:
    times = np.array([utc(2026, 11, 1, 5, 59), utc(2026, 11, 1, 6, 0), utc(2026, 11, 1, 6, 20)])
    # 01:59 EDT, then 01:00 and 01:20 EST: the repeated hour is a window of its own.
    assert clock_window_start(times, 3600, NEW_YORK).tolist() == [
        utc(2026, 11, 1, 5),
        utc(2026, 11, 1, 6),
        utc(2026, 11, 1, 6),
    ]
    starts, ends = clock_window_bounds(times, 900, NEW_YORK)
    assert starts.tolist() == [
        utc(2026, 11, 1, 5, 45),
        utc(2026, 11, 1, 6),
        utc(2026, 11, 1, 6, 15),
    ]
    assert (ends - starts).tolist() == [900.0] * 3
    # A whole-day window is the local day: 23 h on 8 March.
    start, end = clock_window_bounds([utc(2026, 3, 8, 12)], 86400, NEW_YORK)
    assert (start[0], end[0]) == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))


def test_clock_windows_of_a_day_of_samples_are_fast() -> None:
    times = utc(2026, 10, 24, 12) + np.arange(86400, dtype=np.float64)
    clock_window_start(times[:10], 3600, BERLIN)  # warm the zone
    started = time.perf_counter()
    starts = clock_window_start(times, 3600, BERLIN)
    mask = active_mask(active_intervals([NIGHT], BERLIN, times[0], times[-1] + 1), times)
    assert time.perf_counter() - started < 0.05
    assert np.all(starts <= times)
    assert np.all(times - starts < 3600)
    assert mask.sum() == 10 * 3600  # the 10-h night, 22:00 CEST (20:00Z) to 07:00 CET (06:00Z)


def test_bad_zone_and_window_are_refused() -> None:
    with pytest.raises(AlertError, match="unknown time zone 'Mars/Olympus'"):
        active_intervals([NIGHT], "Mars/Olympus", 0.0, 10.0)
    with pytest.raises(AlertError, match="must divide 86400"):
        clock_window_start([0.0], 7000, BERLIN)


# --- against a naive reference: each instant converted to local wall time on its own ------------

hours_without_changes = st.integers(0, 23).filter(lambda h: h != 2)  # 02:xx: the DST hour
window_strategy = st.builds(
    lambda days, start, end: TimeWindow(frozenset(days), start * 60, end * 60),
    st.sets(st.integers(0, 6), min_size=1),
    hours_without_changes,
    hours_without_changes,
)


def naive_active(windows: list[TimeWindow], zone: ZoneInfo, t: float) -> bool:
    local = datetime.fromtimestamp(t, zone)
    minute = local.hour * 60 + local.minute
    weekday = local.weekday()
    yesterday = (local.date() - timedelta(days=1)).weekday()
    for w in windows:
        if not w.crosses_midnight:
            if weekday in w.days and w.start_min <= minute < w.end_min:
                return True
        elif (weekday in w.days and minute >= w.start_min) or (
            yesterday in w.days and minute < w.end_min
        ):
            return True
    return False


@settings(max_examples=60, deadline=None)
@given(
    st.lists(window_strategy, min_size=1, max_size=3),
    st.sampled_from([BERLIN, NEW_YORK]),
    st.sampled_from([utc(2026, 3, 5), utc(2026, 3, 26), utc(2026, 10, 22), utc(2026, 10, 29)]),
)
def test_intervals_agree_with_a_per_instant_reference(
    windows: list[TimeWindow], zone: str, t_from: float
) -> None:
    t_to = t_from + 7 * 86400
    times = np.arange(t_from, t_to, 1800.0)
    mask = active_mask(active_intervals(windows, zone, t_from, t_to), times)
    expected = [naive_active(windows, ZoneInfo(zone), float(t)) for t in times]
    assert mask.tolist() == expected
