"""Energy-correct level combination, Lden and the day/evening/night split (2002/49/EC)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from noisefleet_core.acoustics.combine import (
    CombineError,
    DenPeriods,
    LevelInterval,
    combine_levels,
    den_levels,
    lden_from_periods,
)

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0


def _energy_mean(levels: list[float], weights: list[float]) -> float:
    total = sum(w * 10 ** (lv / 10) for lv, w in zip(levels, weights, strict=True))
    return 10 * math.log10(total / sum(weights))


# --- combine_levels ----------------------------------------------------------------------------


def test_combine_levels_averages_energy_not_decibels() -> None:
    result = combine_levels([70.0, 60.0, 50.0], [1 * HOUR, 2 * HOUR, 3 * HOUR])
    assert result.leq_db == pytest.approx(63.12, abs=0.005)
    assert result.leq_db == pytest.approx(_energy_mean([70, 60, 50], [1, 2, 3]), abs=1e-9)
    assert result.covered_s == 6 * HOUR
    assert result.period_s is None
    assert result.coverage is None


def test_combine_levels_reports_coverage_of_a_period() -> None:
    result = combine_levels([70.0, 60.0, 50.0], [1 * HOUR, 2 * HOUR, 3 * HOUR], period_s=24 * HOUR)
    assert result.leq_db == pytest.approx(63.12, abs=0.005)
    assert result.covered_s == 6 * HOUR
    assert result.period_s == 24 * HOUR
    assert result.coverage == pytest.approx(0.25)


def test_combine_levels_skips_non_finite_levels_and_empty_durations() -> None:
    result = combine_levels(
        [70.0, math.nan, math.inf, 40.0], [HOUR, HOUR, HOUR, 0.0], period_s=4 * HOUR
    )
    assert result.leq_db == pytest.approx(70.0, abs=1e-12)
    assert result.covered_s == HOUR
    assert result.coverage == pytest.approx(0.25)


def test_combine_levels_of_nothing_has_no_level() -> None:
    result = combine_levels([], [], period_s=HOUR)
    assert result.leq_db is None
    assert result.covered_s == 0.0
    assert result.coverage == 0.0


def test_combine_levels_rejects_bad_input() -> None:
    with pytest.raises(CombineError, match="one duration per level"):
        combine_levels([70.0, 60.0], [HOUR])
    with pytest.raises(CombineError, match="negative"):
        combine_levels([70.0], [-1.0])
    with pytest.raises(CombineError, match="more than"):
        combine_levels([70.0, 60.0], [HOUR, HOUR], period_s=1.5 * HOUR)


# --- lden_from_periods ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "evening", "night", "expected"),
    [
        (60.0, 55.0, 50.0, 60.000),
        (60.0, 60.0, 60.0, 66.395),
        (65.0, 62.0, 55.0, 65.404),
        (70.0, 65.0, 60.0, 70.000),
    ],
)
def test_lden_vectors(day: float, evening: float, night: float, expected: float) -> None:
    assert lden_from_periods(day, evening, night) == pytest.approx(expected, abs=0.001)


def test_lden_weights_periods_by_their_hours_and_penalties() -> None:
    value = lden_from_periods(60.0, 55.0, 70.0, hours=(12.0, 4.0, 7.0))
    assert value == pytest.approx(_energy_mean([60, 60, 80], [12, 4, 7]), abs=1e-9)
    no_penalty = lden_from_periods(60.0, 55.0, 50.0, evening_penalty_db=0.0, night_penalty_db=0.0)
    assert no_penalty == pytest.approx(_energy_mean([60, 55, 50], [12, 4, 8]), abs=1e-9)


# --- den_levels --------------------------------------------------------------------------------


def _hourly_den_day(
    first_local: datetime, hours: int, day_db: float, evening_db: float, night_db: float
) -> list[LevelInterval]:
    """Hourly intervals in UTC from ``first_local``; level by the local hour each one starts."""
    start_utc = first_local.astimezone(UTC)
    intervals = []
    for k in range(hours):
        start = start_utc + timedelta(hours=k)
        local_hour = start.astimezone(BERLIN).hour
        if 7 <= local_hour < 19:
            leq = day_db
        elif 19 <= local_hour < 23:
            leq = evening_db
        else:
            leq = night_db
        intervals.append(LevelInterval(start, start + timedelta(hours=1), leq))
    return intervals


def test_full_day_in_berlin() -> None:
    periods = DenPeriods(timezone="Europe/Berlin")
    intervals = _hourly_den_day(datetime(2026, 6, 10, 7, tzinfo=BERLIN), 24, 60.0, 55.0, 50.0)
    days = den_levels(intervals, periods)
    assert len(days) == 1
    result = days[0]
    assert result.day == date(2026, 6, 10)
    assert result.lden_db == pytest.approx(60.000, abs=0.001)
    for period, leq, hours in (
        (result.lday, 60.0, 12),
        (result.levening, 55.0, 4),
        (result.lnight, 50.0, 8),
    ):
        assert period.leq_db == pytest.approx(leq, abs=1e-9)
        assert period.period_s == hours * HOUR
        assert period.covered_s == hours * HOUR
        assert period.coverage == pytest.approx(1.0)


def test_intervals_given_in_local_time_and_in_utc_agree() -> None:
    periods = DenPeriods(timezone="Europe/Berlin")
    in_utc = _hourly_den_day(datetime(2026, 6, 10, 7, tzinfo=BERLIN), 24, 65.0, 62.0, 55.0)
    in_local = [
        LevelInterval(i.start.astimezone(BERLIN), i.end.astimezone(BERLIN), i.leq_db)
        for i in in_utc
    ]
    a = den_levels(in_utc, periods)[0]
    b = den_levels(in_local, periods)[0]
    assert a.lden_db == pytest.approx(65.404, abs=0.001)
    assert b.lden_db == pytest.approx(a.lden_db, abs=1e-12)


@pytest.mark.parametrize("local_times", [False, True], ids=["utc-times", "local-times"])
@pytest.mark.parametrize(
    ("first_day", "night_hours"),
    [(date(2026, 3, 28), 7), (date(2026, 10, 24), 9)],
    ids=["spring-forward", "fall-back"],
)
def test_dst_night_is_weighted_by_its_real_length(
    first_day: date, night_hours: int, local_times: bool
) -> None:
    periods = DenPeriods(timezone="Europe/Berlin")
    first_local = datetime(first_day.year, first_day.month, first_day.day, 7, tzinfo=BERLIN)
    total_hours = 16 + night_hours  # 07:00 to 07:00 local across the clock change
    day_db, evening_db, night_db = 60.0, 55.0, 70.0
    intervals = _hourly_den_day(first_local, total_hours, day_db, evening_db, night_db)
    if local_times:  # the same instants, written as Europe/Berlin wall-clock times
        intervals = [
            LevelInterval(i.start.astimezone(BERLIN), i.end.astimezone(BERLIN), i.leq_db)
            for i in intervals
        ]
    days = den_levels(intervals, periods)
    assert len(days) == 1
    result = days[0]
    assert result.day == first_day
    assert result.lnight.period_s == night_hours * HOUR
    assert result.lnight.covered_s == night_hours * HOUR
    assert result.lnight.coverage == pytest.approx(1.0)
    assert result.lnight.leq_db == pytest.approx(night_db, abs=1e-9)
    assert result.lday.period_s == 12 * HOUR
    assert result.levening.period_s == 4 * HOUR
    expected = _energy_mean([day_db, evening_db + 5, night_db + 10], [12, 4, night_hours])
    nominal = _energy_mean([day_db, evening_db + 5, night_db + 10], [12, 4, 8])
    assert abs(expected - nominal) > 0.1  # the test can tell 7 or 9 h from 8 h
    assert result.lden_db == pytest.approx(expected, abs=1e-9)


def test_interval_crossing_19_00_is_split_between_day_and_evening() -> None:
    periods = DenPeriods(timezone="Europe/Berlin")
    intervals = [
        LevelInterval(
            datetime(2026, 6, 10, 18, 0, tzinfo=BERLIN),
            datetime(2026, 6, 10, 18, 30, tzinfo=BERLIN),
            60.0,
        ),
        LevelInterval(
            datetime(2026, 6, 10, 18, 30, tzinfo=BERLIN),
            datetime(2026, 6, 10, 19, 30, tzinfo=BERLIN),
            70.0,
        ),
    ]
    days = den_levels(intervals, periods)
    assert len(days) == 1
    result = days[0]
    assert result.lday.covered_s == 3600.0
    assert result.lday.leq_db == pytest.approx(_energy_mean([60, 70], [1, 1]), abs=1e-9)
    assert result.levening.covered_s == 1800.0
    assert result.levening.leq_db == pytest.approx(70.0, abs=1e-9)
    assert result.levening.coverage == pytest.approx(1800.0 / (4 * HOUR))
    assert result.lnight.covered_s == 0.0
    assert result.lnight.leq_db is None
    assert result.lden_db is None  # not every period is covered


def test_interval_crossing_07_00_belongs_to_two_den_days() -> None:
    periods = DenPeriods(timezone="Europe/Berlin")
    interval = LevelInterval(
        datetime(2026, 6, 11, 6, 30, tzinfo=BERLIN),
        datetime(2026, 6, 11, 7, 30, tzinfo=BERLIN),
        55.0,
    )
    days = den_levels([interval], periods)
    assert [d.day for d in days] == [date(2026, 6, 10), date(2026, 6, 11)]
    assert days[0].lnight.covered_s == 1800.0
    assert days[0].lnight.leq_db == pytest.approx(55.0)
    assert days[0].lday.leq_db is None
    assert days[1].lday.covered_s == 1800.0
    assert days[1].lday.leq_db == pytest.approx(55.0)
    assert days[1].lnight.covered_s == 0.0


def test_night_wrapping_past_midnight_is_configurable() -> None:
    periods = DenPeriods(day_start_hour=6, evening_start_hour=18, night_start_hour=1)
    start = datetime(2026, 1, 5, 6, tzinfo=UTC)
    intervals = [
        LevelInterval(start + timedelta(hours=k), start + timedelta(hours=k + 1), 50.0)
        for k in range(24)
    ]
    days = den_levels(intervals, periods)
    assert len(days) == 1
    result = days[0]
    assert result.lday.period_s == 12 * HOUR
    assert result.levening.period_s == 7 * HOUR
    assert result.lnight.period_s == 5 * HOUR
    assert result.lden_db == pytest.approx(_energy_mean([50, 55, 60], [12, 7, 5]), abs=1e-9)


def test_empty_and_non_finite_intervals_are_ignored() -> None:
    periods = DenPeriods()
    t = datetime(2026, 6, 10, 12, tzinfo=UTC)
    intervals = [
        LevelInterval(t, t, 80.0),  # zero length
        LevelInterval(t, t - timedelta(hours=1), 80.0),  # reversed
        LevelInterval(t, t + timedelta(hours=1), math.nan),
    ]
    assert den_levels(intervals, periods) == []


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 6, 10, 12)
    aware = naive.replace(tzinfo=UTC)
    with pytest.raises(CombineError, match="timezone-aware"):
        den_levels([LevelInterval(naive, naive + timedelta(hours=1), 60.0)], DenPeriods())
    with pytest.raises(CombineError, match="timezone-aware"):
        den_levels([LevelInterval(aware, naive + timedelta(hours=1), 60.0)], DenPeriods())


@pytest.mark.parametrize(
    ("day", "evening", "night"),
    [(7, 19, 19), (19, 7, 23), (7, 7, 23), (7, 19, 25), (-1, 19, 23), (7, 24, 2), (7, 19, 7)],
)
def test_den_periods_reject_bad_hours(day: int, evening: int, night: int) -> None:
    with pytest.raises(CombineError, match="period hours"):
        DenPeriods(day_start_hour=day, evening_start_hour=evening, night_start_hour=night)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "Europe/Berlinn"])
def test_den_periods_reject_unknown_time_zones(zone: str) -> None:
    with pytest.raises(CombineError, match="time zone"):
        DenPeriods(timezone=zone)


def test_den_periods_accept_defaults_and_midnight_night_start() -> None:
    assert DenPeriods().timezone == "UTC"
    assert DenPeriods(night_start_hour=24).night_start_hour == 24
    assert (
        DenPeriods(day_start_hour=6, evening_start_hour=18, night_start_hour=0).day_start_hour == 6
    )
