"""The complaint check's arithmetic and rules, worked by hand: energy means weighted by the
measured seconds, LAFmax as a maximum, the period of the complaint time (across midnight and
clock changes), the verdict texts and the rule for thin coverage."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from noisefleet_dashboard.complaint import (
    WindowLevels,
    check,
    complaint_moment,
    complaint_window,
    period_note,
    span_text,
    verdict,
    window_levels,
)

BERLIN = ZoneInfo("Europe/Berlin")
LIMITS = {"day": 55, "evening": 50, "night": 45}


@dataclass(frozen=True)
class Bucket:
    start: datetime
    laeq_db: float | None
    lafmax_db: float | None = None
    coverage: float = 1.0


T0 = datetime(2026, 11, 27, 22, 10, tzinfo=UTC)  # 23:10 in Berlin, a Friday


def _seconds(levels: list[float]) -> list[Bucket]:
    return [Bucket(T0 + timedelta(seconds=k), v, v + 2) for k, v in enumerate(levels)]


def test_59_s_at_50_and_1_s_at_90_give_72_2():
    buckets = _seconds([50.0] * 59 + [90.0])
    levels = window_levels(buckets, 1, T0, T0 + timedelta(minutes=1))
    assert levels.laeq_db == pytest.approx(72.2, abs=0.05)
    assert levels.lafmax_db == 92.0  # the maximum, never an average
    assert levels.coverage == 1.0


def test_minutes_weigh_by_their_measured_seconds():
    # 60 s at 60 dB and 30 s at 70 dB: 10·lg((60·10^6 + 30·10^7) / 90) = 10·lg(4·10^6) = 66.02
    buckets = [Bucket(T0, 60.0), Bucket(T0 + timedelta(minutes=1), 70.0, coverage=0.5)]
    levels = window_levels(buckets, 60, T0, T0 + timedelta(minutes=2))
    assert levels.laeq_db == pytest.approx(10 * math.log10(4e6), abs=1e-9)
    assert levels.measured_s == 90
    assert levels.coverage == 0.75


def test_buckets_outside_the_window_and_missing_levels_are_ignored():
    buckets = [
        Bucket(T0 - timedelta(minutes=1), 99.0, 99.0),
        Bucket(T0, 60.0, 61.0),
        Bucket(T0 + timedelta(minutes=1), None, None, coverage=0.0),
    ]
    levels = window_levels(buckets, 60, T0, T0 + timedelta(minutes=2))
    assert levels.laeq_db == pytest.approx(60.0)
    assert levels.lafmax_db == 61.0
    assert levels.coverage == 0.5


def test_verdict_texts():
    full = WindowLevels(52.3, 70.0, 3600, 3600)
    span = "23:10–00:10"
    assert verdict(full, 45, "night", span) == (
        "exceeded",
        "LAeq over 23:10–00:10 = 52.3 dB(A) > night limit 45 dB(A): exceeded",
    )
    assert verdict(full, 55, "day", span) == (
        "complies",
        "LAeq over 23:10–00:10 = 52.3 dB(A) ≤ day limit 55 dB(A): complies",
    )
    # equal to the limit as shown: complies (strictly above fails)
    assert verdict(WindowLevels(45.04, None, 60, 60), 45, "night", span)[0] == "complies"
    assert verdict(full, None, "evening", span)[1].endswith("no evening limit: no verdict")
    assert verdict(WindowLevels(None, None, 0, 60), 45, "night", span) == (
        "not enough data",
        "No levels measured over 23:10–00:10: not enough data",
    )


def test_thin_coverage_gives_no_verdict_unless_even_silence_could_not_save_it():
    # half the window at 47 dB: with silence in the rest 47 - 3.01 = 44.0 ≤ 45: no verdict
    outcome, text = verdict(WindowLevels(47.0, None, 1800, 3600), 45, "night", "x")
    assert outcome == "not enough data"
    assert "from 50 % of the window: not enough data (at least 80 % needed" in text
    # half the window at 50 dB: at least 50 - 3.01 = 47.0 > 45 whatever the gap held
    assert verdict(WindowLevels(50.0, None, 1800, 3600), 45, "night", "x")[0] == "exceeded"
    # thin and quiet is not a verdict of compliance either
    assert verdict(WindowLevels(40.0, None, 600, 3600), 45, "night", "x")[0] == "not enough data"


def test_a_complaint_across_midnight_uses_the_night_limit():
    moment = complaint_moment(date(2026, 11, 27), time(23, 40), "Europe/Berlin")
    start, end = complaint_window(moment, 30)
    assert span_text(start, end, "Europe/Berlin") == "23:10–00:10"
    buckets = [Bucket(start + timedelta(minutes=k), 52.3, 60.0) for k in range(60)]
    result = check("tower", "Europe/Berlin", LIMITS, moment, 30, buckets, 60)
    assert result.period == "night"
    assert result.limit_db == 45
    assert result.text == "LAeq over 23:10–00:10 = 52.3 dB(A) > night limit 45 dB(A): exceeded"
    assert period_note(result) is None


def test_a_window_across_a_period_boundary_keeps_the_complaint_times_limit():
    moment = complaint_moment(date(2026, 11, 27), time(22, 50), "Europe/Berlin")
    buckets = [Bucket(moment - timedelta(minutes=15 - k), 48.0) for k in range(30)]
    result = check("tower", "Europe/Berlin", LIMITS, moment, 15, buckets, 60)
    assert result.period == "evening"  # 22:50: the evening limit 50, not the night's 45
    assert result.outcome == "complies"
    assert result.periods_touched == ("evening", "night")
    assert period_note(result) == (
        "The window spans evening and night: the evening limit of the complaint time applies."
    )
    at_day_start = complaint_moment(date(2026, 11, 27), time(7, 0), "Europe/Berlin")
    assert check("t", "Europe/Berlin", LIMITS, at_day_start, 15, [], 60).period == "day"
    before = complaint_moment(date(2026, 11, 27), time(6, 59), "Europe/Berlin")
    assert check("t", "Europe/Berlin", LIMITS, before, 15, [], 60).period == "night"


def test_a_time_in_the_spring_gap_moves_forward_and_windows_keep_their_length():
    moment = complaint_moment(date(2026, 3, 29), time(2, 30), "Europe/Berlin")  # no 02:30
    assert moment.astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"
    assert moment.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    start, end = complaint_window(moment, 60)
    assert end - start == timedelta(hours=2)
    assert span_text(start, end, "Europe/Berlin") == "01:30–04:30"  # 2 h of real time


def test_an_ambiguous_autumn_time_is_the_first_and_the_window_spans_the_change():
    moment = complaint_moment(date(2026, 10, 25), time(2, 30), "Europe/Berlin")
    assert moment.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # CEST
    start, end = complaint_window(moment, 60)
    assert (start, end) == (
        datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    )
    assert span_text(start, end, "Europe/Berlin") == "01:30–02:30"  # 02:30 CET, an hour later
    buckets = [Bucket(start + timedelta(minutes=k), 40.0) for k in range(120)]
    result = check("tower", "Europe/Berlin", LIMITS, moment, 60, buckets, 60)
    assert result.period == "night"
    assert result.levels.coverage == 1.0  # 120 minutes in a window of 120 minutes
    assert result.outcome == "complies"
