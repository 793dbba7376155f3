"""Migrations, retention, the check command and event parts, against the suite's PostgreSQL;
and the TimescaleDB path when ``NOISEFLEET_TEST_TIMESCALE_URL`` names a Timescale server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from noisefleet_server.config import RetentionSettings
from noisefleet_server.db.ingest_sql import SensorCache, store_batch
from noisefleet_server.db.migrate import migrate
from noisefleet_server.db.minute_rows_sql import PartitionCache, ensure_month_partition
from noisefleet_server.db.retention_sql import apply_retention
from noisefleet_server.ingest.classify import Accepted, classify
from tests.server.conftest import SERVER
from tests.server.helpers import event_record, events_payload, level_record, levels_payload

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _accepted(topic_text: str, payload: bytes) -> Accepted:
    result = classify(
        topic_text, payload, NOW, max_payload_bytes=1 << 20, max_future_s=1e9, keep_bytes=100
    )
    assert isinstance(result, Accepted), result
    return result


async def _store(url: str, items: list[Accepted], timescale: bool = False) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        await store_batch(conn, items, [], SensorCache(), PartitionCache(timescale))


def test_migrate_twice_is_a_no_op(database_url: str) -> None:
    env = {**os.environ, "NOISEFLEET_DATABASE_URL": database_url}
    done = subprocess.run(
        [*SERVER, "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "up to date at version 8 (timescale: False)" in done.stdout


def test_check_reports_each_part_on_one_line(database_url: str) -> None:
    env = {
        **os.environ,
        "NOISEFLEET_DATABASE_URL": database_url,
        "NOISEFLEET_MQTT_URL": "mqtt://127.0.0.1:1",
    }
    done = subprocess.run([*SERVER, "check"], env=env, capture_output=True, text=True, check=False)
    lines = done.stdout.splitlines()
    assert done.returncode == 1
    assert lines[0].startswith("config: ok")
    assert lines[1].startswith("database: ok")
    assert "(PostgreSQL 15" in lines[1]
    assert lines[2].startswith("broker: FAILED (127.0.0.1:1:")
    assert "Traceback" not in done.stderr
    bad = subprocess.run(
        [*SERVER, "migrate"],
        env={**env, "NOISEFLEET_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("noisefleet-server: database postgresql://nobody@127.0.0.1:1")


def test_event_parts_and_the_end_report_update_one_event(db: psycopg.Connection) -> None:
    url = db.info.dsn
    event_id = str(uuid.uuid4())
    start = NOW - timedelta(minutes=5)
    first = event_record(event_id, "siren", start, 30.0, part=1, final=False)
    second = event_record(event_id, "siren", start, 75.0, laeq_db=72.0, part=2, final=True)
    asyncio.run(
        _store(
            url,
            [
                _accepted(*events_payload("park", "s01", 1, [first], phase="start")),
                _accepted(*events_payload("park", "s01", 3, [second])),
                _accepted(*events_payload("park", "s01", 2, [first])),  # late, older part
            ],
        )
    )
    rows = db.execute("SELECT duration_s, laeq_db, final FROM noisefleet.events").fetchall()
    assert rows == [(75.0, 72.0, True)]


def test_retention_drops_whole_old_partitions_and_keeps_rollups(db: psycopg.Connection) -> None:
    url = db.info.dsn
    old = NOW - timedelta(days=200)
    records = [level_record(old + timedelta(seconds=s), 55.0) for s in range(60)]
    recent = [level_record(NOW - timedelta(minutes=10, seconds=-s), 55.0) for s in range(60)]
    asyncio.run(
        _store(
            url,
            [
                _accepted(*levels_payload("park", "s01", 1, records)),
                _accepted(*levels_payload("park", "s01", 2, recent)),
            ],
        )
    )
    db.execute(
        "INSERT INTO noisefleet_store.rollup_1h (sensor_id, start, energy, measured_s,"
        " coverage, event_count) SELECT sensor_id, %s, 1, 1, 1, 0 FROM noisefleet_store.sensors",
        (old.replace(minute=0),),
    )

    async def retain() -> list[str]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await apply_retention(conn, RetentionSettings(level_records_days=90), False, NOW)

    # notifications: an old delivered and an old failed one go, an old queued one stays
    for state in ("delivered", "failed", "queued"):
        db.execute(
            "INSERT INTO noisefleet_store.notifications (notification_id, notifier, alert_id,"
            " event, site, sensor, body, created_at, state)"
            " VALUES (gen_random_uuid(), 'ops', 1, 'firing', 'park', 's01', '{}', %s, %s)",
            (old, state),
        )
    dropped = asyncio.run(retain())
    assert dropped == [f"level_minutes_{old:%Y%m}"]
    assert db.execute("SELECT count(*) FROM noisefleet.levels").fetchone() == (60,)
    assert db.execute("SELECT count(*) FROM noisefleet.levels_1h").fetchone() == (1,)
    states = db.execute("SELECT state FROM noisefleet_store.notifications").fetchall()
    assert states == [("queued",)]


def test_a_partition_created_twice_is_created_once(db: psycopg.Connection) -> None:
    async def twice() -> None:
        async with await psycopg.AsyncConnection.connect(db.info.dsn, autocommit=True) as conn:
            await ensure_month_partition(conn, date(2027, 3, 1))
            await ensure_month_partition(conn, date(2027, 3, 1))

    asyncio.run(twice())
    row = db.execute("SELECT to_regclass('noisefleet_store.level_minutes_202703')").fetchone()
    assert row is not None
    assert row[0] is not None


@pytest.mark.skipif(
    not os.environ.get("NOISEFLEET_TEST_TIMESCALE_URL"),
    reason="no TimescaleDB here: set NOISEFLEET_TEST_TIMESCALE_URL to a Timescale server",
)
def test_the_timescale_path_migrates_and_stores() -> None:
    url = os.environ["NOISEFLEET_TEST_TIMESCALE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        report = migrate(conn)
        assert report.timescale
        row = conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables"
            " WHERE hypertable_name = 'level_minutes'"
        ).fetchone()
        assert row == (1,)
    records = [level_record(NOW + timedelta(seconds=s), 60.0) for s in range(60)]
    asyncio.run(_store(url, [_accepted(*levels_payload("ts", "s01", 1, records))], True))
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), min(laeq_db) FROM noisefleet.levels WHERE site = 'ts'"
        ).fetchone()
    assert row == (60, 60.0)
