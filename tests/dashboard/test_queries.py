"""The dashboard's queries against the suite's PostgreSQL, filled through the server's ingest:
numbers (energy-mean LAeq, coverage, Lden) and access (an operator never sees another's site)."""

from __future__ import annotations

import math
from datetime import date, timedelta

import psycopg
import pytest

from noisefleet_dashboard import queries
from noisefleet_dashboard.access import SiteScope, User, scope_of
from noisefleet_dashboard.errors import QueryError
from noisefleet_dashboard.formatting import fleet_table, lden_table
from noisefleet_dashboard.resolution import RESOLUTIONS, choose_resolution
from tests.dashboard.seed import TOWER_LAEQ, Fleet

pytestmark = pytest.mark.integration

ADMIN = scope_of(User("admin", "admin"))
OLGA = scope_of(User("olga", "operator", frozenset({"tower"})))
OSCAR = scope_of(User("oscar", "operator", frozenset({"depot"})))


@pytest.fixture
def conn(fleet_db: Fleet) -> psycopg.Connection:
    with psycopg.connect(fleet_db.url, autocommit=True) as connection:
        yield connection


def test_fleet_rows_hold_health_coverage_and_alerts(conn: psycopg.Connection, fleet_db: Fleet):
    rows = {(r.site, r.sensor): r for r in queries.fleet(conn, ADMIN, fleet_db.end)}
    assert set(rows) == {("tower", "roof"), ("depot", "gate")}  # the pending x1 is not listed
    roof = rows["tower", "roof"]
    assert roof.status == "online"
    assert roof.last_seen == fleet_db.end
    assert roof.outbox_depth == 3
    assert roof.model_name == "urban-sed-int8"
    assert roof.calibration_date == date(2026, 10, 2)
    assert roof.open_alerts == 1
    # Berlin's day began at 23:00 UTC: 11.5 h by 10:30 UTC, 30 min of it measured.
    assert roof.coverage_today == pytest.approx(1800 / (11.5 * 3600))
    gate = rows["depot", "gate"]
    assert gate.coverage_today == pytest.approx(600 / (10.5 * 3600))  # UTC midnight
    assert gate.open_alerts == 0
    table = fleet_table([roof, gate], fleet_db.end, offline_after_s=300)
    assert table[0]["state"] == "🟢 online"
    assert table[0]["coverage today"] == "4 %"
    assert table[0]["calibration age (d)"] == 53
    assert table[1]["state"] == "🔴 offline"  # last heard from 20 min before the end


def test_an_operator_sees_only_the_assigned_site(conn: psycopg.Connection, fleet_db: Fleet):
    assert [r.site for r in queries.fleet(conn, OLGA, fleet_db.end)] == ["tower"]
    assert [r.site for r in queries.fleet(conn, OSCAR, fleet_db.end)] == ["depot"]
    assert [s.site for s in queries.sites(conn, OSCAR)] == ["depot"]
    assert queries.site_sensors(conn, OSCAR, "tower") == []
    start, end = fleet_db.t0, fleet_db.end
    minutes = RESOLUTIONS[1]
    assert queries.levels(conn, OSCAR, "tower", "roof", start, end, minutes) == []
    assert queries.span_laeq(conn, OSCAR, "tower", "roof", start, end) == (None, 0.0)
    day = fleet_db.t0.date()
    assert queries.lden_days(conn, OSCAR, "tower", "roof", day, day) == []
    assert queries.pending_sensors(conn, OSCAR) == []
    nobody = SiteScope(all_sites=False)
    assert queries.fleet(conn, nobody, fleet_db.end) == []
    pending = queries.pending_sensors(conn, ADMIN)
    assert [(p.site, p.sensor, p.site_registered) for p in pending] == [("annex", "x1", False)]


def test_levels_at_each_resolution_and_the_energy_mean(conn: psycopg.Connection, fleet_db: Fleet):
    start, end = fleet_db.t0, fleet_db.end
    laeq, measured = queries.span_laeq(conn, OLGA, "tower", "roof", start, end)
    assert laeq == pytest.approx(TOWER_LAEQ, abs=0.005)  # 57.40 dB, not the 55 dB of dB means
    assert measured == pytest.approx(1.0)
    seconds = queries.levels(conn, OLGA, "tower", "roof", start, end, RESOLUTIONS[0])
    assert len(seconds) == 1800
    assert {p.laeq_db for p in seconds} == {50.0, 60.0}
    minutes = queries.levels(conn, OLGA, "tower", "roof", start, end, RESOLUTIONS[1])
    assert len(minutes) == 30
    assert minutes[0].laeq_db == 50.0
    assert minutes[-1].laeq_db == 60.0
    assert minutes[0].laf10_db is not None
    assert minutes[0].laf90_db is not None
    hour = start.replace(minute=0)
    hours = queries.levels(
        conn, OLGA, "tower", "roof", hour, hour + timedelta(hours=1), RESOLUTIONS[2]
    )
    assert len(hours) == 1
    assert hours[0].laeq_db == pytest.approx(TOWER_LAEQ, abs=0.005)
    assert hours[0].coverage == pytest.approx(0.5)
    assert hours[0].lafmax_db == pytest.approx(62.0)  # the records' LAFmax: LAeq + 2
    week = queries.levels(
        conn, OLGA, "tower", "roof", start - timedelta(days=3), end + timedelta(days=3),
        choose_resolution(timedelta(days=6, minutes=30)),
    )  # fmt: skip
    assert len(week) == 1  # hours: one measured hour in the span
    with pytest.raises(QueryError):
        queries.levels(conn, OLGA, "tower", "roof", end, start, RESOLUTIONS[1])


def test_span_laeq_reads_whole_hours_from_the_roll_up_and_the_edges_from_minutes(
    conn: psycopg.Connection, fleet_db: Fleet
):
    """Spans with whole hours (read from levels_1h), edges inside an hour and none at all
    give the energy mean of exactly the minutes inside the span."""
    t0, hour = fleet_db.t0, fleet_db.t0.replace(minute=0)
    spans = [
        (hour - timedelta(minutes=50), hour + timedelta(hours=2, minutes=7)),  # one whole hour
        (hour, hour + timedelta(hours=1)),  # exactly the hour
        (t0 + timedelta(minutes=10), t0 + timedelta(minutes=20)),  # inside the hour
        (t0, t0 + timedelta(minutes=15)),  # the 50 dB minutes only
        (hour - timedelta(days=3), hour + timedelta(days=3, minutes=1)),
    ]
    for start, end in spans:
        minutes = queries.levels(conn, OLGA, "tower", "roof", start, end, RESOLUTIONS[1])
        seconds = sum(p.coverage * 60 for p in minutes)
        energy = sum(10 ** (p.laeq_db / 10) * p.coverage * 60 for p in minutes if p.laeq_db)
        laeq, measured = queries.span_laeq(conn, OLGA, "tower", "roof", start, end)
        assert laeq == pytest.approx(10 * math.log10(energy / seconds), abs=0.005), (start, end)
        assert measured == pytest.approx(seconds / (end - start).total_seconds()), (start, end)
    assert queries.span_laeq(conn, OLGA, "tower", "roof", t0, t0 + timedelta(minutes=15))[
        0
    ] == pytest.approx(50.0, abs=0.005)


def test_lden_per_day_with_compliance(conn: psycopg.Connection, fleet_db: Fleet):
    day = fleet_db.t0.date()
    days = queries.lden_days(conn, OLGA, "tower", "roof", day - timedelta(days=1), day)
    assert [d.day for d in days] == [day]
    only = days[0]
    assert only.lday_db == pytest.approx(TOWER_LAEQ, abs=0.005)
    assert only.lnight_db is None
    assert only.coverage == pytest.approx(1800 / 86400)
    site = queries.sites(conn, OLGA)[0]
    row = lden_table(days, site.limits)[0]
    assert row["Lday"] == 57.4
    assert row["compliance"] == "❌ exceeded (day)"
    depot = queries.lden_days(conn, OSCAR, "depot", "gate", day, day)
    assert lden_table(depot, {"day": 75})[0]["compliance"] == "⚠️ incomplete"
