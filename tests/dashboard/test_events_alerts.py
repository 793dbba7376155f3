"""The Events and Alerts pages' data and logic against the suite's PostgreSQL: numbers per
filter, access in SQL, acknowledgement and rule writes refused to viewers, the replay preview."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from noisefleet_core.alerts.errors import RuleError
from noisefleet_core.alerts.rules import load_rules_toml, parse_rules
from noisefleet_dashboard import (
    alert_queries,
    alerts_view,
    event_queries,
    events,
    formatting,
    queries,
)
from noisefleet_dashboard.access import User, scope_of
from noisefleet_dashboard.alert_queries import AlertFilter, NotAllowedError
from noisefleet_dashboard.event_queries import EventFilter, HourCount
from noisefleet_dashboard.resolution import RESOLUTIONS
from tests.dashboard.events_seed import DRAFT, seed_events
from tests.dashboard.seed import Fleet

pytestmark = pytest.mark.integration

ADMIN_USER = User("admin", "admin")
OLGA_USER = User("olga", "operator", frozenset({"tower"}))
VERA_USER = User("vera", "viewer", frozenset({"tower"}))
ADMIN, OLGA = scope_of(ADMIN_USER), scope_of(OLGA_USER)
OSCAR = scope_of(User("oscar", "operator", frozenset({"depot"})))


@pytest.fixture
def conn(fleet_db: Fleet) -> psycopg.Connection:
    seed_events(fleet_db.url, fleet_db.t0)
    with psycopg.connect(fleet_db.url, autocommit=True) as connection:
        yield connection


def _filter(fleet: Fleet, **extra: object) -> EventFilter:
    return EventFilter("tower", fleet.t0, fleet.end, **extra)  # type: ignore[arg-type]


def test_events_by_filter_and_access(conn: psycopg.Connection, fleet_db: Fleet):
    f = _filter(fleet_db)
    assert event_queries.count(conn, OLGA, f) == 5
    assert event_queries.count(conn, OSCAR, f) == 0  # another operator's site: nothing
    assert event_queries.labels(conn, OLGA, "tower") == ["dog_bark", "siren"]
    assert event_queries.count(conn, OLGA, _filter(fleet_db, labels=("siren",))) == 3
    assert event_queries.count(conn, OLGA, _filter(fleet_db, min_confidence=0.85)) == 2
    assert event_queries.count(conn, OLGA, _filter(fleet_db, sensor="other")) == 0
    rows = event_queries.events(conn, ADMIN, f, limit=2)
    assert [r.event_id for r in rows] == ["ev4", "ev2"]  # newest first
    buckets = event_queries.timeline(conn, OLGA, f, 900)
    assert [(b.start - fleet_db.t0, b.label, b.count) for b in buckets] == [
        (timedelta(0), "dog_bark", 1),
        (timedelta(0), "siren", 2),
        (timedelta(minutes=15), "dog_bark", 1),
        (timedelta(minutes=15), "siren", 1),
    ]
    hours = event_queries.hours_of_day(conn, OLGA, f, "Europe/Berlin")
    assert hours == [HourCount(11, "dog_bark", 2), HourCount(11, "siren", 3)]  # 10 UTC = 11 CET
    table = events.hour_table(hours)
    assert len(table) == 24
    assert table[11] == {"hour": 11, "events": 5, "dog_bark": 2, "siren": 3}
    assert table[10]["events"] == 0


def test_event_detail_has_the_seconds_around_it(conn: psycopg.Connection, fleet_db: Fleet):
    row = event_queries.event(conn, OLGA, "ev2")
    assert row is not None
    assert row.duration_s == 10.0
    assert event_queries.event(conn, OSCAR, "ev2") is None
    start, end = events.detail_window(row)
    points = queries.levels(conn, OLGA, "tower", "roof", start, end, RESOLUTIONS[0])
    assert len(points) == 250  # 2 min + 10 s + 2 min of 1-s levels
    assert {p.laeq_db for p in points} == {60.0}  # t0+18 min .. t0+22:10: the 60-dB half
    shown = events.event_table([row], "Europe/Berlin")[0]
    assert shown["start (local)"] == "2026-11-24 11:20:00"
    assert shown["confidence"] == 0.95


def test_the_timeline_aggregates_when_there_are_many_events():
    assert events.timeline_bucket_s(timedelta(days=1), 2000, 3) is None
    # a week in 15-min buckets × 3 labels is 2016 marks: too many; hours are 504
    assert events.timeline_bucket_s(timedelta(days=7), 5000, 3) == 3600
    assert events.timeline_bucket_s(timedelta(hours=6), 9000, 2) == 60
    assert formatting.bucket_label(3600) == "1 h"


def test_alerts_by_filter_and_access(conn: psycopg.Connection, fleet_db: Fleet):
    open_ = alert_queries.alerts(conn, ADMIN, AlertFilter())
    assert [(a.rule_id, a.site, a.state) for a in open_] == [("loud", "tower", "firing")]
    every = AlertFilter(states=alert_queries.ALERT_STATES)
    assert len(alert_queries.alerts(conn, ADMIN, every)) == 2
    assert [a.rule_id for a in alert_queries.alerts(conn, OLGA, every)] == ["loud"]
    late = AlertFilter(states=alert_queries.ALERT_STATES, late=True)
    assert [a.rule_id for a in alert_queries.alerts(conn, ADMIN, late)] == ["quiet"]
    later = AlertFilter(
        states=alert_queries.ALERT_STATES, since=fleet_db.t0 + timedelta(minutes=10)
    )
    assert [a.rule_id for a in alert_queries.alerts(conn, ADMIN, later)] == ["loud"]
    assert alert_queries.alert_rule_ids(conn, OSCAR) == ["quiet"]
    row = alerts_view.alert_table(open_)[0]
    assert row["state"] == "🔴 firing"
    assert row["acknowledged by"] == ""


def test_acknowledge_is_refused_to_viewers_and_other_sites(
    conn: psycopg.Connection, fleet_db: Fleet
):
    loud = alert_queries.alerts(conn, ADMIN, AlertFilter())[0]
    with pytest.raises(NotAllowedError, match="Viewers"):
        alert_queries.acknowledge(conn, fleet_db.url, VERA_USER, loud.alert_id, "seen")
    oscar = User("oscar", "operator", frozenset({"depot"}))
    with pytest.raises(NotAllowedError, match="not at one of your sites"):
        alert_queries.acknowledge(conn, fleet_db.url, oscar, loud.alert_id, "seen")
    assert alert_queries.alerts(conn, ADMIN, AlertFilter())[0].acknowledged_by is None
    alert_queries.acknowledge(conn, fleet_db.url, OLGA_USER, loud.alert_id, " crane, called ")
    after = alert_queries.alerts(conn, ADMIN, AlertFilter())[0]
    assert (after.acknowledged_by, after.ack_comment) == ("olga", "crane, called")
    assert after.acknowledged_at is not None


def test_drafts_are_checked_with_the_rules_in_force(conn: psycopg.Connection, fleet_db: Fleet):
    no_file = parse_rules({"rules": []})
    with pytest.raises(RuleError, match=r"^rules\[0\] \(x\)\.limit_db: must be a number") as bad:
        alerts_view.check_draft(DRAFT.replace("draft-loud", "x").replace("55.0", '"loud"'),
                                no_file, {})  # fmt: skip
    assert "\n" not in str(bad.value)
    in_file = load_rules_toml(DRAFT)
    with pytest.raises(RuleError, match="is defined in the rule file"):
        alerts_view.check_draft(DRAFT, in_file, {})
    draft = alerts_view.check_draft(DRAFT, no_file, {})
    assert [r.id for r in draft.rules] == ["draft-loud"]
    with pytest.raises(NotAllowedError):
        alert_queries.save_rules(fleet_db.url, VERA_USER, list(draft.bodies))
    with pytest.raises(RuleError, match="must name your sites"):
        alerts_view.check_sites(draft, "operator", OLGA_USER.sites)
    alert_queries.save_rules(fleet_db.url, ADMIN_USER, list(draft.bodies))
    stored = alert_queries.db_rules(conn)
    assert stored["draft-loud"]["limit_db"] == 55.0
    # editing the stored rule replaces it (no duplicate id), and the TOML reads back
    again = alerts_view.check_draft(alerts_view.rules_toml([stored["draft-loud"]]), no_file, stored)
    assert again.bodies[0]["id"] == "draft-loud"
    form = alerts_view.level_rule_toml("night", "laeq", 60, 45, sites=["tower"],
                                       active=("22:00", "07:00"))  # fmt: skip
    alerts_view.check_sites(alerts_view.check_draft(form, no_file, stored), "operator",
                            OLGA_USER.sites)  # fmt: skip


def test_the_preview_replays_the_draft_at_the_users_sites(
    conn: psycopg.Connection, fleet_db: Fleet
):
    rules = load_rules_toml(DRAFT).rules
    start, end = fleet_db.t0 - timedelta(hours=1), fleet_db.end + timedelta(hours=1)
    found = alert_queries.preview(fleet_db.url, ADMIN, rules, start, end)
    assert sorted((a.site, a.sensor) for a in found) == [("depot", "gate"), ("tower", "roof")]
    tower = next(a for a in found if a.site == "tower")
    assert tower.fired_at == fleet_db.t0 + timedelta(minutes=16)  # the first 60-dB minute's end
    assert tower.peak == pytest.approx(60.0)
    olga = alert_queries.preview(fleet_db.url, OLGA, rules, start, end)
    assert [(a.site, a.rule_id) for a in olga] == [("tower", "draft-loud")]
    assert alerts_view.preview_table(olga)[0]["rule"] == "draft-loud"
