"""The alert engine against the suite's PostgreSQL: each rule kind fires and resolves on crafted
data with answers worked out by hand; de-duplication, cool-down, late data, incremental equals
from scratch, and replay equals live."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from noisefleet_core.alerts.rules import load_rules_toml
from noisefleet_server.alerts.replay import replay
from tests.server.alert_harness import (
    SENSOR,
    SITE,
    Clock,
    alerts,
    config_for,
    evaluate,
    heartbeat_payload,
    ingest,
    minutes_of_records,
    write_rules,
)
from tests.server.helpers import event_record, events_payload, status_payload

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

ROLLING = """
[[rules]]
id = "rolling-15"
kind = "level"
metric = "laeq"
window_s = 900
limit_db = 68.0
"""


def _site(db: psycopg.Connection, timezone: str = "UTC") -> None:
    db.execute(
        "INSERT INTO noisefleet_store.sites (site, kind, timezone) VALUES (%s, 'city', %s)",
        (SITE, timezone),
    )


def test_rolling_15_min_laeq_fires_and_resolves(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    # 14 min at 60 dB then 1 min at 80 dB: the 15-min LAeq ending at 08:15 is
    # 10·lg((14·10^6 + 10^8)/15) = 10·lg(7.6·10^6) = 68.81 dB > 68; one minute later (13 min
    # at 60, 1 at 80, 1 at 60) it is the same again, and it stays until the loud minute leaves.
    _site(db)
    config = config_for(database_url, write_rules(tmp_path / "r.toml", ROLLING))
    levels = [60.0] * 14 * 60 + [80.0] * 60 + [60.0] * 20 * 60
    ingest(database_url, minutes_of_records(T0, levels))
    evaluate(config, Clock(T0 + timedelta(hours=1)))
    [alert] = alerts(db, "rolling-15")
    expected = 10 * math.log10((14 * 10**6 + 10**8) / 15)
    assert alert["state"] == "resolved"
    assert alert["fired_at"] == T0 + timedelta(minutes=15)
    assert alert["peak"] == pytest.approx(expected, abs=0.01)
    # the loud minute 08:14–08:15 leaves the window ending at 08:29 + 1 min
    assert alert["ended_at"] == T0 + timedelta(minutes=30)
    assert alert["tier"] == "limit"


def test_incremental_equals_from_scratch_and_replay(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    _site(db)
    rules = (
        ROLLING
        + """
[[rules]]
id = "tiers"
kind = "level"
metric = "laeq"
window_s = 60
tiers = [{name = "warning", limit_db = 65.0}, {name = "limit", limit_db = 75.0}]
hysteresis_db = 3.0
min_duration_s = 120
release_s = 120
"""
    )
    config = config_for(database_url, write_rules(tmp_path / "r.toml", rules))
    pattern = [60.0] * 300 + [70.0] * 300 + [80.0] * 240 + [63.0] * 180 + [50.0] * 600
    messages = minutes_of_records(T0, pattern)
    clock = Clock(T0 + timedelta(days=1))
    for message in messages:  # one minute at a time, evaluated after each
        ingest(database_url, [message])
        evaluate(config, clock)
    live = [
        (
            a["rule_id"],
            a["pending_since"],
            a["fired_at"],
            a["resolved_at"],
            a["tier"],
            round(a["peak"], 2),
        )
        for a in alerts(db)
    ]
    # By hand: the 1-min LAeq is 70 from 08:06, 80 from 08:11, 63 from 08:15, 50 from 08:18.
    # "tiers" is pending at 08:06, fires (warning) after 120 s at 08:08, escalates to limit at
    # 08:11, holds at 63 > 65 − 3, stops at 08:18 and resolves 120 s later at 08:20.
    # "rolling-15" first exceeds at 08:11 (10 min measured: 5·60 + 5·70 + 1·80 dB → 71.49),
    # peaks at 08:14 (5·60 + 5·70 + 4·80 over 14 min → 75.12) and is still above 68 at the
    # data's end (08:27: 2·80 + 3·63 + 10·50 over 15 min → 71.4).
    at = T0.replace
    assert live == [
        ("tiers", at(minute=6), at(minute=8), at(minute=20), "limit", 80.0),
        ("rolling-15", at(minute=11), at(minute=11), None, "limit", 75.12),
    ]

    async def replayed() -> list[tuple[object, ...]]:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            found = await replay(
                conn,
                load_rules_toml(rules).rules,
                T0.timestamp(),
                (T0 + timedelta(hours=2)).timestamp(),
            )
        out = []
        for a in found:
            e = a.episode
            out.append(
                (
                    a.rule.id,
                    datetime.fromtimestamp(e.pending_since, UTC),
                    datetime.fromtimestamp(e.fired_at, UTC) if e.fired_at else None,
                    datetime.fromtimestamp(e.resolved_at, UTC) if e.resolved_at else None,
                    a.tier_name,
                    round(e.peak, 2) if e.peak is not None else None,
                )
            )
        return out

    assert sorted(asyncio.run(replayed()), key=str) == sorted(live, key=str)
    # the tiered rule escalated warning → limit inside one alert (not two alerts)
    tiered = alerts(db, "tiers")
    assert len(tiered) == 1
    assert tiered[0]["tier"] == "limit"


def test_late_data_is_marked_late(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    _site(db)
    config = config_for(database_url, write_rules(tmp_path / "r.toml", ROLLING))
    clock = Clock(T0 + timedelta(hours=3))  # the data is three hours old when it arrives
    ingest(database_url, minutes_of_records(T0, [60.0] * 14 * 60 + [80.0] * 60 + [60.0] * 1200))
    evaluate(config, clock)
    [alert] = alerts(db)
    assert alert["late"] is True


def test_event_and_count_rules(database_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    _site(db)
    rules = """
[[rules]]
id = "siren"
kind = "event"
labels = ["siren"]
min_confidence = 0.5
release_s = 30

[[rules]]
id = "barking"
kind = "event_count"
labels = ["dog_bark"]
window_s = 600
limit = 3
"""
    config = config_for(database_url, write_rules(tmp_path / "r.toml", rules))
    ingest(database_url, minutes_of_records(T0, [55.0] * 1800))
    events = [event_record("s1", "siren", T0 + timedelta(seconds=100), 12.0)]
    events += [
        event_record(f"d{i}", "dog_bark", T0 + timedelta(seconds=300 + 60 * i), 2.0)
        for i in range(4)
    ]
    ingest(database_url, [events_payload(SITE, SENSOR, 100, events)])
    evaluate(config, Clock(T0 + timedelta(hours=1)))
    [siren] = alerts(db, "siren")
    assert siren["fired_at"] == T0 + timedelta(seconds=101)
    assert siren["state"] == "resolved"
    [bark] = alerts(db, "barking")
    # the 4th bark starts at 08:08:00: more than 3 starts in the window from then on
    assert bark["fired_at"] == T0 + timedelta(minutes=9)
    # the first (08:05:00) leaves the 10-min window [t − 600 s, t) at t = 08:15:01; on the
    # 60-s grid the count is back to 3 at 08:16
    assert bark["state"] == "resolved"
    assert bark["resolved_at"] == T0 + timedelta(minutes=16)


def test_offline_health_rule(database_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    _site(db)
    rules = """
[[rules]]
id = "offline"
kind = "health"
check = "offline"
after_s = 300
"""
    config = config_for(database_url, write_rules(tmp_path / "r.toml", rules))
    now = datetime.now(UTC).replace(microsecond=0)
    ingest(database_url, [status_payload(SITE, SENSOR, 1, "online")])
    ingest(database_url, [status_payload(SITE, SENSOR, 3, "offline")])
    clock = Clock(now + timedelta(minutes=2))
    evaluate(config, clock)
    [alert] = alerts(db, "offline")
    assert alert["state"] == "firing"


def test_loudest_night_hour_across_the_dst_change(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    # The night of 2026-10-24/25 in Berlin: 22:00 CEST (20:00 UTC) to 06:00 CET (05:00 UTC) is
    # 9 real hours; 02:00–03:00 happens twice. Hourly LAeq (UTC hours 19..05):
    # 19: 48 (21:00 local, before the night), 20: 38, 21: 41, 22: 44, 23: 39, 00: 43 (the first
    # 02:00), 01: 47 (the second 02:00, CET), 02: 36, 03: 35, 04: 42, 05: 48 (06:00, after).
    # Only the second 02:00 hour breaks 45. It is certain once 10·lg(m/60 · 10^4.7) > 45, i.e.
    # after m = 38 minutes (01:38 UTC); the full hour is 47.0 at 02:00 UTC; the next hour is
    # quiet, so the alert ends at 02:01 UTC.
    _site(db, "Europe/Berlin")
    rules = """
[[rules]]
id = "night-hour"
kind = "level"
metric = "laeq"
window_s = 3600
align = "clock"
active = [{from = "22:00", to = "06:00"}]
limit_db = 45.0
"""
    config = config_for(database_url, write_rules(tmp_path / "r.toml", rules))
    start = datetime(2026, 10, 24, 19, 0, tzinfo=UTC)
    hourly = [48, 38, 41, 44, 39, 43, 47, 36, 35, 42, 48]
    levels = [float(v) for v in hourly for _ in range(3600)]
    ingest(database_url, minutes_of_records(start, levels))
    evaluate(config, Clock(start + timedelta(days=1)))
    [alert] = alerts(db, "night-hour")
    assert alert["fired_at"] == datetime(2026, 10, 25, 1, 38, tzinfo=UTC)
    assert alert["peak"] == pytest.approx(47.0, abs=0.01)
    assert alert["peak_at"] == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    assert alert["ended_at"] == datetime(2026, 10, 25, 2, 1, tzinfo=UTC)


def test_ta_laerm_short_peak_at_night(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    # General residential night limit 40 dB(A): a single LAFmax may exceed it by 20 dB. One
    # second with LAFmax 61 > 60 at 23:10:05 local (Berlin, CET = UTC+1) fires at once.
    _site(db, "Europe/Berlin")
    rules = """
[[rules]]
id = "night-peak"
kind = "level"
metric = "lafmax"
window_s = 1
active = [{from = "22:00", to = "06:00"}]
limit_db = 60.0
"""
    config = config_for(database_url, write_rules(tmp_path / "r.toml", rules))
    start = datetime(2026, 11, 24, 22, 10, tzinfo=UTC)  # 23:10 local
    messages = minutes_of_records(start, [38.0] * 120, lafmax_db=45.0)
    ingest(database_url, messages)
    quiet = minutes_of_records(start + timedelta(minutes=2), [38.0] * 60, lafmax_db=59.9, seq0=11)
    loud = minutes_of_records(start + timedelta(minutes=3), [40.0], lafmax_db=61.0, seq0=12)
    after = minutes_of_records(
        start + timedelta(minutes=3, seconds=1), [38.0] * 59, lafmax_db=45.0, seq0=13
    )
    ingest(database_url, quiet + loud + after)
    evaluate(config, Clock(start + timedelta(hours=1)))
    [alert] = alerts(db, "night-peak")
    # the sample at t describes [t − 1 s, t): the loud second 22:13:00 is seen at 22:13:01
    assert alert["fired_at"] == start + timedelta(minutes=3, seconds=1)
    assert alert["peak"] == pytest.approx(61.0)
    assert alert["state"] == "resolved"  # the next second is quiet again
    assert alert["resolved_at"] == start + timedelta(minutes=3, seconds=2)


def test_cool_down_suppresses_and_counts(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    # 1-min LAeq above 70; cool-down 10 min. Loud minutes 08:05, 08:08 and 08:30: the first
    # alert fires at 08:06 and resolves at 08:07; the loud 08:08 minute (sample 08:09) falls in
    # its cool-down (until 08:17) and is counted, not alerted; 08:30 opens a second alert.
    _site(db)
    rules = """
[[rules]]
id = "loud"
kind = "level"
metric = "laeq"
window_s = 60
limit_db = 70.0
cooldown_s = 600
"""
    config = config_for(database_url, write_rules(tmp_path / "r.toml", rules))
    levels = [60.0] * 3600
    for minute in (5, 8, 30):
        levels[minute * 60 : minute * 60 + 60] = [75.0] * 60
    ingest(database_url, minutes_of_records(T0, levels))
    evaluate(config, Clock(T0 + timedelta(hours=2)))
    first, second = alerts(db, "loud")
    assert (first["fired_at"], first["resolved_at"]) == (T0.replace(minute=6), T0.replace(minute=7))
    assert first["suppressed"] == 1
    assert second["fired_at"] == T0.replace(minute=31)
    assert second["suppressed"] == 0


def test_budget_warning(database_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    # 1-h clock LAeq limit 65 dB: 30 min at 65 dB spend half the budget (10^6.5 · 1800). At
    # 08:31, with 1 min at 70 dB, 5.09·10^9 remain; the last 5 min average 66.6 dB (4.53·10^6
    # per s), so the limit is reached in 1124 s ≤ 1800 s and before the hour ends: warning.
    # At 08:30 the answer is exactly the time left (1800 s): no warning yet.
    _site(db)
    rules = """
[[rules]]
id = "budget"
kind = "budget"
window_s = 3600
align = "clock"
limit_db = 65.0
warn_within_s = 1800
basis_s = 300
"""
    config = config_for(database_url, write_rules(tmp_path / "r.toml", rules))
    levels = [65.0] * 1800 + [70.0] * 1800 + [50.0] * 1800
    ingest(database_url, minutes_of_records(T0, levels))
    evaluate(config, Clock(T0 + timedelta(hours=3)))
    [alert] = alerts(db, "budget")
    assert alert["fired_at"] == T0.replace(minute=31)
    # The hour ends at 09:00. At 09:01 the new hour has spent 60 s at 50 dB, but the last 5 min
    # still average 69.0 dB (240 s at 70, 60 s at 50): its limit would be reached in 1419 s, so
    # the warning holds; at 09:02 (66.8 dB over 5 min) it is 1882 s > 1800 s: resolved.
    assert alert["state"] == "resolved"
    assert alert["resolved_at"] == T0 + timedelta(hours=1, minutes=2)


def test_health_rules_fire_and_resolve_on_the_clock(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    _site(db)
    rules = """
[[rules]]
id = "offline"
kind = "health"
check = "offline"
after_s = 300

[[rules]]
id = "clock"
kind = "health"
check = "clock_unsynced"
"""
    config = config_for(database_url, write_rules(tmp_path / "r.toml", rules))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ingest(database_url, [status_payload(SITE, SENSOR, 1, "online")])
    ingest(database_url, [heartbeat_payload(now, 2)])
    clock = Clock(now + timedelta(minutes=1))
    evaluate(config, clock)
    assert alerts(db) == []
    # the broker's Last Will says offline: the status message itself triggers the sensor's
    # health rules (no wait for the clock-driven pass)
    ingest(database_url, [status_payload(SITE, SENSOR, 3, "offline")])
    clock.set(now + timedelta(minutes=2))
    evaluate(config, clock, dirty_only=True)
    [offline] = alerts(db, "offline")
    assert offline["state"] == "firing"
    assert "offline" in offline["message"]
    # back online: resolved at the next pass; no second alert
    ingest(database_url, [status_payload(SITE, SENSOR, 4, "online")])
    ingest(database_url, [heartbeat_payload(now + timedelta(minutes=3), 5)])
    clock.set(now + timedelta(minutes=4))
    evaluate(config, clock)
    [offline] = alerts(db, "offline")
    assert offline["state"] == "resolved"
    assert alerts(db, "clock") == []
    # silence: no heartbeat for more than 300 s fires again (a new alert, no cool-down)
    clock.set(now + timedelta(minutes=10))
    evaluate(config, clock)
    assert [a["state"] for a in alerts(db, "offline")] == ["resolved", "firing"]
    # a heartbeat saying the clock is not synchronised
    ingest(database_url, [heartbeat_payload(now + timedelta(minutes=10), 6, clock_synced=False)])
    clock.set(now + timedelta(minutes=11))
    evaluate(config, clock)
    assert [a["state"] for a in alerts(db, "clock")] == ["firing"]


def test_a_bad_database_rule_keeps_the_valid_set_in_force(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    _site(db)
    config = config_for(database_url, write_rules(tmp_path / "r.toml", ROLLING))
    engine = evaluate(config, Clock(T0))
    assert [r.id for r in engine.rules.rules] == ["rolling-15"]
    # someone writes a broken rule into the database (the dashboard validates; SQL does not)
    db.execute(
        "INSERT INTO noisefleet_store.alert_rules (rule_id, body) VALUES ('x', %s)",
        ('{"id": "x", "kind": "level", "metric": "laeq", "window_s": "long"}',),
    )

    async def reload() -> tuple[list[str], str | None]:
        from psycopg_pool import AsyncConnectionPool

        from noisefleet_server.alerts.engine import AlertEngine

        async with AsyncConnectionPool(database_url, min_size=1, max_size=1, open=False) as pool:
            engine = AlertEngine(config, pool, now=Clock(T0))
            engine.rules = load_rules_toml(ROLLING)
            await engine.refresh_rules(force=True)
            return [r.id for r in engine.rules.rules], engine.rules_error

    rules, error = asyncio.run(reload())
    assert rules == ["rolling-15"]  # the previous, valid set stays in force
    assert error is not None
    assert "database rules" in error
    assert "window_s" in error
    assert "\n" not in error
    # a rule id that clashes with the file's is refused as a whole too
    db.execute("DELETE FROM noisefleet_store.alert_rules")
    db.execute(
        "INSERT INTO noisefleet_store.alert_rules (rule_id, body) VALUES ('rolling-15', %s)",
        ('{"id": "rolling-15", "kind": "event", "labels": ["siren"]}',),
    )
    rules, error = asyncio.run(reload())
    assert error is not None
    assert "rolling-15" in error


def test_removing_a_rule_closes_its_open_alert(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    _site(db)
    rules_file = write_rules(tmp_path / "r.toml", ROLLING)
    config = config_for(database_url, rules_file)
    ingest(database_url, minutes_of_records(T0, [80.0] * 1200))
    evaluate(config, Clock(T0 + timedelta(hours=1)))
    [alert] = alerts(db)
    assert alert["state"] == "firing"
    rules_file.write_text(ROLLING.replace('id = "rolling-15"', 'id = "renamed"'))
    evaluate(config, Clock(T0 + timedelta(hours=1)))
    old = next(a for a in alerts(db) if a["rule_id"] == "rolling-15")
    assert old["state"] == "resolved"
    assert "rule was removed" in old["message"]
    states = db.execute("SELECT rule_id FROM noisefleet_store.alert_state").fetchall()
    assert ("rolling-15",) not in states
