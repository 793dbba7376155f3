"""compute_samples per rule kind, against numbers worked out by hand (see each test)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from noisefleet_core.alerts.evaluate import evaluate
from noisefleet_core.alerts.rules import parse_rule
from noisefleet_core.alerts.samples import compute_samples
from noisefleet_core.alerts.series import SensorData, minutes_from_records

from .helpers import BERLIN, epoch, events, minutes, records

T0 = epoch(2026, 6, 1, 10)  # a Monday, 10:00 UTC
HOUR = 3600.0


def rule(**body: Any) -> Any:
    return parse_rule({"id": "r", **body})


def lg_mean(levels: list[float], weights: list[float]) -> float:
    total = sum(w * 10 ** (v / 10) for v, w in zip(levels, weights, strict=True))
    return 10 * math.log10(total / sum(weights))


# --- level rules: rolling ----------------------------------------------------------------------


def test_rolling_15_min_laeq_14_min_at_60_then_1_min_at_80() -> None:
    # 10 lg((14 x 10^6 + 10^8) / 15) = 10 lg(7.6 x 10^6) = 68.81 dB (not 68.55).
    expected = 10 * math.log10((14 * 10**6 + 10**8) / 15)
    assert expected == pytest.approx(68.81, abs=0.005)
    r = rule(kind="level", metric="laeq", window_s=900, limit_db=68)
    data = SensorData(minutes=minutes(T0, [60.0] * 14 + [80.0]))
    s = compute_samples(r, data, T0 + 840, T0 + 900)
    assert s.times.tolist() == [T0 + 900]
    assert s.values[0] == pytest.approx(expected, abs=1e-9)
    assert s.on_tier.tolist() == [0]


def test_rolling_window_needs_min_coverage() -> None:
    # 7 of 15 minutes measured: below the default 0.5 -> no value; 8 of 15 -> a value.
    r = rule(kind="level", metric="laeq", window_s=900, limit_db=50)
    levels = [math.nan] * 8 + [60.0] * 8
    s = compute_samples(r, SensorData(minutes=minutes(T0, levels)), T0 + 840, T0 + 960)
    assert np.isnan(s.values[0])
    assert s.values[1] == pytest.approx(60.0)


def test_one_minute_laeq_at_record_resolution_59_s_at_50_and_1_s_at_90() -> None:
    # 10 lg((59 x 10^5 + 10^9) / 60) = 72.2 dB.
    recs = records(T0, [50.0] * 59 + [90.0])
    r = rule(kind="level", metric="laeq", window_s=60, limit_db=72)
    s = compute_samples(r, SensorData(minutes=minutes_from_records(recs)), T0, T0 + 60)
    assert s.values[0] == pytest.approx(lg_mean([50, 90], [59, 1]), abs=1e-9)
    assert s.values[0] == pytest.approx(72.2, abs=0.05)
    # A 30-s rule runs on the records themselves, one sample a second.
    r30 = rule(kind="level", metric="laeq", window_s=30, limit_db=72)
    s30 = compute_samples(r30, SensorData(records=recs), T0 + 58, T0 + 60)
    assert s30.times.tolist() == [T0 + 59, T0 + 60]
    assert s30.values[0] == pytest.approx(50.0)
    assert s30.values[1] == pytest.approx(lg_mean([50, 90], [29, 1]), abs=1e-9)


def test_rolling_lafmax_is_the_maximum_and_active_windows_blank_the_rest() -> None:
    # Active 10:05-10:10 UTC only: samples outside are NaN.
    r = rule(
        kind="level",
        metric="lafmax",
        window_s=300,
        limit_db=75,
        active=[{"from": "10:05", "to": "10:10"}],
    )
    peaks = [70.0, 71, 80, 72, 70, 70, 70, 70, 70, 70, 70, 70]
    data = SensorData(minutes=minutes(T0, [60.0] * 12, lafmax_db=peaks))
    s = compute_samples(r, data, T0 + 240, T0 + 720)
    by_minute = dict(
        zip(((s.times - T0) // 60).astype(int).tolist(), s.values.tolist(), strict=True)
    )
    assert math.isnan(by_minute[5])
    assert math.isnan(by_minute[11])
    assert by_minute[6] == 80.0  # minutes 1-5 hold the 80
    assert by_minute[7] == 80.0  # minutes 2-6
    assert by_minute[8] == 72.0  # minutes 3-7
    assert by_minute[10] == 70.0


# --- level rules: clock and period -------------------------------------------------------------


def test_clock_hour_three_quarters_at_60_and_one_at_80_is_74_1_and_fires_when_certain() -> None:
    # 10 lg((3 x 10^6 + 10^8) / 4) = 74.1. Limit 70 is certain once E/3600 s > 10^7: after 45 min
    # at 60 dB (2.7e9) and x s at 80 dB: x > 333 s, so at minute 51 (LAeq so far 71.02, the
    # certain lower bound 10 lg(3.87e10 / 3600) = 70.31), not at the hour's end.
    r = rule(kind="level", metric="laeq", window_s=3600, align="clock", limit_db=70)
    data = SensorData(minutes=minutes(T0, [60.0] * 45 + [80.0] * 15 + [60.0] * 2))
    ev = evaluate(r, data, T0, T0 + 3720)
    kinds = [(t.kind, (t.at - T0) / 60) for t in ev.transitions]
    assert kinds == [("pending", 51), ("firing", 51), ("resolved", 61)]
    firing = ev.transitions[1]
    assert firing.value == pytest.approx(10 * math.log10(3.87e10 / 3060), abs=1e-9)
    assert firing.level == pytest.approx(10 * math.log10(3.87e10 / 3600), abs=1e-9)
    (episode,) = ev.episodes
    assert episode.peak == pytest.approx(74.1, abs=0.05)
    assert episode.peak == pytest.approx(lg_mean([60, 80], [3, 1]), abs=1e-9)
    assert episode.peak_at == T0 + HOUR
    assert ev.samples.values[60] == pytest.approx(60.0)  # the next hour starts afresh


def test_loudest_night_hour_across_the_dst_change_in_berlin() -> None:
    # Night of 24/25 Oct 2026: 22:00 CEST (20:00 UTC) to 06:00 CET (05:00 UTC) is 9 real hours;
    # the local hour 02:00-03:00 happens twice. Hourly levels, loudest (44) in the second one
    # (02:00 CET = 01:00-02:00 UTC). Limit 43: certain after 3600 x 10^-0.1 = 2859 s, so it fires
    # at 01:48 UTC; its peak is the hour's LAeq 44.0 at 02:00 UTC; resolved at 02:01 UTC.
    night = [38.0, 41, 39, 37, 36, 44, 35, 42, 40]
    start = epoch(2026, 10, 24, 20)
    assert start == epoch(2026, 10, 24, 22, tz=BERLIN)
    assert start + 9 * HOUR == epoch(2026, 10, 25, 6, tz=BERLIN)
    levels = [50.0] * 60 + [lv for lv in night for _ in range(60)] + [50.0] * 60
    data = SensorData(timezone="Europe/Berlin", minutes=minutes(start - HOUR, levels))
    r = rule(
        kind="level",
        metric="laeq",
        window_s=3600,
        align="clock",
        limit_db=43,
        active=[{"from": "22:00", "to": "06:00"}],
    )
    ev = evaluate(r, data, start - HOUR, start + 10 * HOUR)
    active = ~np.isnan(ev.samples.values)
    assert int(active.sum()) == 9 * 60
    hour_ends = ev.samples.times[active][59::60]
    assert ev.samples.values[active][59::60] == pytest.approx(night)
    assert hour_ends.tolist() == [start + (k + 1) * HOUR for k in range(9)]
    (episode,) = ev.episodes
    assert episode.fired_at == epoch(2026, 10, 25, 1, 48)
    assert episode.peak == pytest.approx(44.0)
    assert episode.peak_at == epoch(2026, 10, 25, 2)
    assert episode.resolved_at == epoch(2026, 10, 25, 2, 1)


TA_DAY = {"from": "06:00", "to": "22:00"}


def _ta_rule(penalty_windows: list[tuple[str, str]], days: list[str]) -> Any:
    penalties = [{"days": days, "from": a, "to": b, "add_db": 6} for a, b in penalty_windows]
    return rule(
        kind="level",
        metric="laeq",
        align="period",
        active=[TA_DAY],
        limit_db=55,
        penalties=penalties,
    )


@pytest.mark.parametrize(
    ("day", "windows", "days", "expected", "penalised_h"),
    [
        (
            3,
            [("06:00", "07:00"), ("20:00", "22:00")],
            ["mon", "tue", "wed", "thu", "fri", "sat"],
            51.9,
            3,
        ),
        (7, [("06:00", "09:00"), ("13:00", "15:00"), ("20:00", "22:00")], ["sun"], 53.6, 7),
    ],
    ids=["weekday", "sunday"],
)
def test_ta_laerm_rating_level_of_a_constant_50_db_day(
    day: int, windows: list[tuple[str, str]], days: list[str], expected: float, penalised_h: int
) -> None:
    # Weekday: 10 lg((13 x 10^5 + 3 x 10^5.6) / 16) = 51.9; Sunday: (9 x 10^5 + 7 x 10^5.6) / 16
    # -> 53.6. June 3 2026 is a Wednesday, June 7 a Sunday; Berlin is UTC+2 in summer.
    start = epoch(2026, 6, day, 6, tz=BERLIN)
    data = SensorData(timezone="Europe/Berlin", minutes=minutes(start, [50.0] * 16 * 60))
    r = _ta_rule(windows, days)
    s = compute_samples(r, data, start, start + 16 * HOUR + 60)
    final = s.values[s.times == start + 16 * HOUR]
    assert final[0] == pytest.approx(lg_mean([50, 56], [16 - penalised_h, penalised_h]), abs=1e-9)
    assert final[0] == pytest.approx(expected, abs=0.05)
    assert np.isnan(s.values[-1])  # 22:01 is outside the period


def test_ta_laerm_short_peak_at_night_from_records() -> None:
    # General residential night limit 40; a single LAFmax may exceed it by 20: 61 > 60 fires.
    night = epoch(2026, 6, 1, 23, tz=BERLIN)
    lafmax = [45.0] * 10
    lafmax[5] = 61.0
    lafmax[8] = 60.0  # not above 60
    data = SensorData(timezone="Europe/Berlin", records=records(night, [40.0] * 10, lafmax))
    r = rule(
        kind="level",
        metric="lafmax",
        window_s=1,
        limit_db=60,
        active=[{"from": "22:00", "to": "06:00"}],
    )
    ev = evaluate(r, data, night, night + 10)
    assert [(t.kind, t.at - night) for t in ev.transitions] == [
        ("pending", 6),
        ("firing", 6),
        ("resolved", 7),
    ]
    assert ev.transitions[1].value == 61.0


def test_nyc_source_10_db_above_the_ambient_laf90() -> None:
    # Ambient: an hour of minutes whose histograms put LAF90 at 60.0 (10 % of the samples in the
    # 59.9-60.0 bin, 90 % in 60.0-60.1); then a minute at LAeq 70: 10 dB above the ambient.
    # Conditions are strict (value > limit), so "at least 10 dB" is limit_db = 9.9.
    hist = [(599, [10, 90])] * 61
    levels = [60.0] * 60 + [70.0]
    data = SensorData(minutes=minutes(T0, levels, histograms=hist))
    r = rule(kind="level", metric="laeq", window_s=60, limit_db=9.9, reference="ambient_laf90")
    s = compute_samples(r, data, T0 + HOUR, T0 + HOUR + 60)
    assert s.values[0] == pytest.approx(10.0, abs=1e-9)
    assert s.on_tier.tolist() == [0]
    quieter = SensorData(minutes=minutes(T0, [60.0] * 60 + [69.8], histograms=hist))
    assert compute_samples(r, quieter, T0 + HOUR, T0 + HOUR + 60).on_tier.tolist() == [-1]
    no_ambient = SensorData(minutes=minutes(T0, levels))  # no histograms: no ambient, no value
    assert np.isnan(compute_samples(r, no_ambient, T0 + HOUR, T0 + HOUR + 60).values[0])


def test_laf90_of_a_window_comes_from_the_merged_histograms() -> None:
    from noisefleet_core.acoustics.histogram import LevelHistogram, exceeded_level, merge_histograms

    rng = np.random.default_rng(3)
    parts = [LevelHistogram.from_levels(rng.normal(50 + k, 3, 600)) for k in range(15)]
    hist = [(h.first_bin, list(h.counts)) for h in parts]
    data = SensorData(minutes=minutes(T0, [55.0] * 15, laf90_db=[0.0] * 15, histograms=hist))
    r = rule(kind="level", metric="laf90", window_s=900, limit_db=40)
    s = compute_samples(r, data, T0 + 840, T0 + 900)
    expected = exceeded_level(merge_histograms(parts), 90.0)
    assert expected is not None
    assert s.values[0] == pytest.approx(expected, abs=1e-9)
    # Without histograms, only a 60-s window has an LAF90: the minute's own.
    bare = SensorData(minutes=minutes(T0, [55.0] * 15, laf90_db=[41.0 + k for k in range(15)]))
    assert np.isnan(compute_samples(r, bare, T0 + 840, T0 + 900).values[0])
    one = rule(kind="level", metric="laf90", window_s=60, limit_db=40)
    assert compute_samples(one, bare, T0 + 840, T0 + 900).values.tolist() == [55.0]


# --- event rules -------------------------------------------------------------------------------


def test_event_rule_overlap_labels_and_min_confidence() -> None:
    # A dog bark 10.5-12.2 s (confidence 0.9) overlaps the seconds ending at 11, 12, 13; a bark
    # at 0.4 confidence and a siren do not qualify.
    evs = events(
        [
            (T0 + 10.5, T0 + 12.2, "dog_bark", 0.9, 72.0),
            (T0 + 20.0, T0 + 21.0, "dog_bark", 0.4, 80.0),
            (T0 + 30.0, T0 + 31.0, "siren", 0.99, 90.0),
        ]
    )
    r = rule(kind="event", labels=["dog_bark"], min_confidence=0.5)
    s = compute_samples(r, SensorData(events=evs), T0, T0 + 40)
    firing = (s.times[s.values == 1.0] - T0).tolist()
    assert firing == [11, 12, 13]
    assert s.peak[s.values == 1.0].tolist() == [72.0, 72.0, 72.0]
    ev = evaluate(r, SensorData(events=evs), T0, T0 + 40)
    assert [(t.kind, t.at - T0) for t in ev.transitions] == [
        ("pending", 11),
        ("firing", 11),
        ("resolved", 14),
    ]
    everything = rule(kind="event", labels=["dog_bark"])
    s_all = compute_samples(everything, SensorData(events=evs), T0, T0 + 40)
    assert (s_all.times[s_all.values == 1.0] - T0).tolist() == [11, 12, 13, 21]


def test_event_count_more_than_n_starts_in_a_rolling_window() -> None:
    # Starts at 1, 2, 3, 4 min (+5 s): a 5-min window holds 4 starts from minute 5 on, fewer
    # once the first start leaves it at 6:05, i.e. at the 7-min sample.
    evs = events([(T0 + 60 * k + 5, T0 + 60 * k + 8, "horn", 0.8, 85.0) for k in (1, 2, 3, 4)])
    r = rule(kind="event_count", labels=["horn"], window_s=300, limit=3)
    s = compute_samples(r, SensorData(events=evs), T0, T0 + 600)
    assert s.values.tolist() == [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]
    assert s.on_tier.tolist() == [-1, -1, -1, -1, 0, 0, -1, -1, -1, -1]
    clock = rule(kind="event_count", labels=["horn"], window_s=180, align="clock", limit=1)
    s_clock = compute_samples(clock, SensorData(events=evs), T0, T0 + 360)
    assert s_clock.values.tolist() == [0, 1, 2, 1, 2, 2]  # counts so far, from 10:00 and 10:03


# --- budget ------------------------------------------------------------------------------------


def test_budget_1_h_limit_65_after_30_min_at_65_then_70_db() -> None:
    # Budget: 10^6.5 x 3600 s. After 30 min at 65 the remaining energy is 10^6.5 x 1800.
    # - 10:30: current level 65 (last 5 min) -> 1800 s to the limit = exactly the time left: the
    #   window ends on the limit, not above it: no warning.
    # - 10:31: current level 10 lg((4 x 10^6.5 + 10^7) / 5) = 66.56 dB; remaining
    #   10^6.5 x 1800 - 60 x 10^7 = 5.092e9 -> 1124 s (18.7 min) < 29 min left: warns.
    # - 10:35: current level 70, remaining 10^6.5 x 1800 - 300 x 10^7 -> 269 s (= 569 - 300).
    # - 10:40: 10 min at 70 used 6e9 > 5.69e9: the limit is certain -> 0.
    r = rule(kind="budget", window_s=3600, align="clock", limit_db=65, warn_within_s=1800)
    data = SensorData(minutes=minutes(T0, [65.0] * 30 + [70.0] * 30 + [50.0] * 5))
    s = compute_samples(r, data, T0 + 1740, T0 + 3780)
    at = {
        int((t - T0) // 60): (v, c, p)
        for t, v, c, p in zip(s.times, s.values, s.on_tier, s.peak, strict=True)
    }
    budget = 10**6.5 * 1800
    assert at[30][0] == pytest.approx(1800.0)
    assert at[30][1] == -1
    current = 10 * math.log10((4 * 10**6.5 + 10**7) / 5)
    assert at[31][2] == pytest.approx(current)
    assert at[31][0] == pytest.approx((budget - 60 * 10**7) / 10 ** (current / 10))
    assert at[31][0] == pytest.approx(1124, abs=1)
    assert at[31][1] == 0
    assert at[35][0] == pytest.approx(1800 * 10**-0.5 - 300)
    assert at[39][0] > 0
    assert at[40][0] == 0.0
    assert at[40][1] == 0
    # A new hour, a new budget: at 11:01 the current level (4 min at 70, 1 at 50) still uses it
    # up within 30 min; at 11:02 (3 at 70, 2 at 50) no longer.
    fresh = 10**6.5 * 3600
    for minute, used, loud in ((61, 1, 4), (62, 2, 3)):
        current = 10 * math.log10((loud * 10**7 + (5 - loud) * 10**5) / 5)
        expected = (fresh - used * 60 * 10**5) / 10 ** (current / 10)
        assert at[minute][0] == pytest.approx(expected)
    assert at[61][0] < 1800 < at[62][0]
    ev = evaluate(r, data, T0 + 1740, T0 + 3780)
    assert [(t.kind, (t.at - T0) // 60) for t in ev.transitions] == [
        ("pending", 31),
        ("firing", 31),
        ("resolved", 62),
    ]
