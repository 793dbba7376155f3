"""The Site page's energy shares and heat map maths (causes), with hand-computed figures."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from noisefleet_dashboard.causes import (
    OTHER,
    HourLevel,
    ShareRow,
    bucket_shares,
    heat_map_rows,
    share_chart_rows,
    share_table,
    span_shares,
    top_labels,
)

H0 = datetime(2026, 11, 24, 10, tzinfo=UTC)
H1 = H0 + timedelta(hours=1)


def test_a_loud_hour_weighs_ten_times_a_hour_10_db_quieter() -> None:
    # Hour 0 at 60 dB: all traffic; hour 1 at 70 dB (10x the energy): half siren, half traffic.
    shares = [
        ShareRow(H0, "traffic", 1.0),
        ShareRow(H1, "siren", 0.5),
        ShareRow(H1, "traffic", 0.5),
    ]
    hours = [HourLevel(H0, 60.0, 1.0), HourLevel(H1, 70.0, 1.0)]
    overall = span_shares(shares, hours)
    # traffic: (1*1 + 0.5*10) / 11 = 6/11; siren: 5/11
    assert overall == pytest.approx({"traffic": 6 / 11, "siren": 5 / 11})
    assert list(overall) == ["traffic", "siren"]
    assert sum(overall.values()) == pytest.approx(1.0)
    assert share_table(overall)[0] == {"cause": "traffic", "share of the energy": "54.5 %"}


def test_coverage_weighs_and_unmeasured_hours_do_not_count() -> None:
    shares = [ShareRow(H0, "dog_bark", 1.0), ShareRow(H1, "siren", 1.0)]
    # Same level, hour 1 measured only a quarter: 1 : 0.25.
    assert span_shares(shares, [HourLevel(H0, 60.0, 1.0), HourLevel(H1, 60.0, 0.25)]) == (
        pytest.approx({"dog_bark": 0.8, "siren": 0.2})
    )
    assert span_shares(shares, [HourLevel(H0, None, 0.0)]) == {}


def test_day_buckets_are_local_days() -> None:
    # 23:00 UTC on the 24th is 00:00 on the 25th in Berlin (UTC+1 in November).
    late = datetime(2026, 11, 24, 23, tzinfo=UTC)
    shares = [ShareRow(H0, "traffic", 1.0), ShareRow(late, "music", 1.0)]
    hours = [HourLevel(H0, 60.0, 1.0), HourLevel(late, 60.0, 1.0)]
    days = bucket_shares(shares, hours, "Europe/Berlin", "day")
    assert days == {date(2026, 11, 24): {"traffic": 1.0}, date(2026, 11, 25): {"music": 1.0}}
    assert set(bucket_shares(shares, hours, "UTC", "day")) == {date(2026, 11, 24)}


def test_labels_beyond_the_top_become_other_in_the_chart_rows() -> None:
    labels = {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}
    assert top_labels(labels, keep=2) == ["a", "b"]
    rows = share_chart_rows({H0: labels}, ["a", "b"])
    assert [(r["label"], r["share"]) for r in rows] == [
        ("a", pytest.approx(40.0)), ("b", pytest.approx(30.0)), (OTHER, pytest.approx(30.0)),
    ]  # fmt: skip


def test_heat_map_cells_are_local_and_combine_a_repeated_hour_energy_correctly() -> None:
    # 2026-10-25: Berlin falls back at 03:00 CEST -> 02:00 CET; 00:00 and 01:00 UTC are both 02:xx.
    first = datetime(2026, 10, 25, 0, tzinfo=UTC)
    hours = [HourLevel(first, 60.0, 1.0), HourLevel(first + timedelta(hours=1), 70.0, 1.0)]
    rows = heat_map_rows(hours, "Europe/Berlin")
    expected = 10 * math.log10((10**6 + 10**7) / 2)
    assert rows == [{"day": "2026-10-25", "hour": 2, "LAeq": round(expected, 1), "measured": 1.0}]
    assert heat_map_rows([HourLevel(H0, 55.0, 0.5)], "UTC") == [
        {"day": "2026-11-24", "hour": 10, "LAeq": 55.0, "measured": 0.5}
    ]
