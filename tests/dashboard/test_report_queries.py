"""The Complaint check's and Reports' queries against the suite's PostgreSQL, filled through
the server's ingest and roll-ups: events and alerts in a window, calibration, exports (numbers,
the row cap) and access (another operator's site gives nothing)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from noisefleet_dashboard import complaint, queries, report_queries
from noisefleet_dashboard.access import User, scope_of
from noisefleet_dashboard.resolution import RESOLUTIONS
from tests.dashboard.complaint_seed import EVENT_START, NIGHT_T0, seed_night
from tests.dashboard.seed import TOWER_LAEQ

pytestmark = pytest.mark.integration

OLGA = scope_of(User("olga", "operator", frozenset({"tower"})))
OSCAR = scope_of(User("oscar", "operator", frozenset({"depot"})))
WINDOW = (NIGHT_T0, NIGHT_T0 + timedelta(minutes=45))


@pytest.fixture
def conn(database_url: str) -> psycopg.Connection:
    seed_night(database_url)
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def test_events_and_alerts_in_a_window(conn: psycopg.Connection):
    events = report_queries.events_between(conn, OLGA, "tower", *WINDOW)
    assert [(e.label, e.start, e.duration_s, e.laeq_db) for e in events] == [
        ("music", EVENT_START, 20.0, 70.0)
    ]
    alerts = report_queries.alerts_between(conn, OLGA, "tower", *WINDOW)
    assert [(a.rule_id, a.state, a.started) for a in alerts] == [
        ("loud", "firing", NIGHT_T0 + timedelta(minutes=20))
    ]
    before = (NIGHT_T0 - timedelta(hours=1), NIGHT_T0)
    assert report_queries.events_between(conn, OLGA, "tower", *before) == []
    assert report_queries.alerts_between(conn, OLGA, "tower", *before) == []
    assert report_queries.events_between(conn, OSCAR, "tower", *WINDOW) == []
    assert report_queries.alerts_between(conn, OSCAR, "tower", *WINDOW) == []


def test_the_check_of_the_seeded_night_from_1_s_and_1_min_levels(conn: psycopg.Connection):
    for resolution in RESOLUTIONS[:2]:
        start, end = NIGHT_T0, NIGHT_T0 + timedelta(minutes=30)
        points = queries.levels(conn, OLGA, "tower", "roof", start, end, resolution)
        levels = complaint.window_levels(points, resolution.bucket_s, start, end)
        assert levels.laeq_db == pytest.approx(TOWER_LAEQ, abs=0.01)  # 57.40
        assert levels.lafmax_db == pytest.approx(62.0)
        assert levels.coverage == pytest.approx(1.0)


def test_calibrations(conn: psycopg.Connection):
    rows = report_queries.calibrations(conn, OLGA, "tower")
    assert [(r.sensor, str(r.calibration_date)) for r in rows] == [("roof", "2026-10-02")]
    assert report_queries.calibrations(conn, OSCAR, "tower") == []


def test_exports_of_levels_and_events_with_the_cap(conn: psycopg.Connection):
    start, end = NIGHT_T0 - timedelta(hours=1), NIGHT_T0 + timedelta(hours=1)
    minutes = report_queries.export_levels(conn, OLGA, "tower", start, end, RESOLUTIONS[1], 100)
    assert minutes.complete
    assert len(minutes.rows) == 30
    row = dict(zip(minutes.columns, minutes.rows[0], strict=True))
    assert (row["site"], row["sensor"], row["start"], row["laeq_db"]) == (
        "tower",
        "roof",
        NIGHT_T0,
        pytest.approx(50.0),
    )
    seconds = report_queries.export_levels(conn, OLGA, "tower", start, end, RESOLUTIONS[0], 1800)
    assert seconds.complete
    assert len(seconds.rows) == 1800
    cut = report_queries.export_levels(conn, OLGA, "tower", start, end, RESOLUTIONS[0], 1799)
    assert not cut.complete
    assert len(cut.rows) == 1799
    events = report_queries.export_events(conn, OLGA, "tower", start, end, 10)
    assert [r[3] for r in events.rows] == ["music"]
    assert (
        report_queries.export_levels(conn, OSCAR, "tower", start, end, RESOLUTIONS[1], 9).rows == []
    )
