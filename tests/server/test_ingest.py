"""Ingest against a real mosquitto and PostgreSQL: exactly once, dead letters, outages."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.server.conftest import ServerProcess
from tests.server.helpers import (
    Publisher,
    event_record,
    events_payload,
    level_record,
    levels_payload,
    status_payload,
    wait_for,
)
from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _count(db: psycopg.Connection, sql: str, *params: object) -> int:
    row = db.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def _minute_batch(site: str, sensor: str, sequence: int, minute: int, base_db: float = 50.0):
    start = T0 + timedelta(minutes=minute)
    records = [level_record(start + timedelta(seconds=i), base_db + i % 7) for i in range(60)]
    return levels_payload(site, sensor, sequence, records)


def test_levels_events_and_status_are_stored_once(
    start_server: Callable[..., ServerProcess], publisher: Publisher, db: psycopg.Connection
) -> None:
    start_server()
    first = _minute_batch("park", "s01", 1, 0)
    publisher.publish(*first)
    publisher.publish(*first)  # the same message id again: a duplicate
    publisher.publish(*_minute_batch("park", "s01", 2, 1))
    event_id = str(uuid.uuid4())
    publisher.publish(*events_payload("park", "s01", 3, [event_record(event_id, "siren", T0, 4.0)]))
    publisher.publish(*status_payload("park", "s01", 3, "online"))
    wait_for(
        lambda: _count(db, "SELECT count(*) FROM noisefleet_store.messages") == 4,
        what="4 messages stored",
    )
    assert _count(db, "SELECT count(*) FROM noisefleet.levels") == 120
    row = db.execute(
        "SELECT laeq_db, duration_s, coverage, calibrated FROM noisefleet.levels"
        " WHERE start = %s",
        (T0 + timedelta(seconds=3),),
    ).fetchone()
    assert row == (53.0, 1.0, 1.0, True)
    assert db.execute("SELECT label, duration_s FROM noisefleet.events").fetchall() == [
        ("siren", 4.0)
    ]
    sensor = db.execute("SELECT pending, status FROM noisefleet.sensors").fetchone()
    assert sensor == (True, "online")
    assert _count(db, "SELECT count(*) FROM noisefleet.dead_letters") == 0
