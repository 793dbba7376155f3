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
        "SELECT laeq_db, duration_s, coverage, calibrated FROM noisefleet.levels WHERE start = %s",
        (T0 + timedelta(seconds=3),),
    ).fetchone()
    assert row == (53.0, 1.0, 1.0, True)
    assert db.execute("SELECT label, duration_s FROM noisefleet.events").fetchall() == [
        ("siren", 4.0)
    ]
    sensor = db.execute("SELECT pending, status FROM noisefleet.sensors").fetchone()
    assert sensor == (True, "online")
    assert _count(db, "SELECT count(*) FROM noisefleet.dead_letters") == 0


def _good_and_bad() -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected reason fragment) for every kind of malformed input."""
    topic_text, good = _minute_batch("park", "s01", 1, 0)
    data = json.loads(good)

    def changed(**fields: object) -> bytes:
        return json.dumps({**data, **fields}).encode()

    missing = dict(data)
    del missing["sequence"]
    far = (datetime.now(UTC) + timedelta(days=2)).isoformat(timespec="milliseconds")
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        (topic_text, b"{not json", "not JSON"),
        (topic_text, b"[1, 2, 3]", "expected a JSON object"),
        (topic_text, b"\xff\xfe\x00garbage", "not UTF-8"),
        (topic_text, changed(schema_version=99), "unsupported version 99"),
        (topic_text, changed(kind="weather"), "does not match the topic kind"),
        (topic_text, json.dumps(missing).encode(), "missing field(s) sequence"),
        (topic_text, changed(sequence="seven"), "sequence: expected an integer"),
        (topic_text.replace("/park/", "/other/"), good, "does not match 'other' in the topic"),
        (topic_text, b" " * (1024 * 1024 + 1), "oversized"),
        (topic_text, deep, "nested too deeply"),
        (topic_text, changed(sent_at=far.replace("+00:00", "Z")), "ahead of the server's clock"),
        (topic_text, b'{"sequence": ' + b"9" * 5000 + b"}", "payload:"),
    ]


def test_malformed_payloads_are_dead_lettered_while_valid_traffic_goes_on(
    start_server: Callable[..., ServerProcess], publisher: Publisher, db: psycopg.Connection
) -> None:
    start_server()
    cases = _good_and_bad()
    for index, (topic_text, payload, _) in enumerate(cases):
        publisher.publish(topic_text, payload)
        publisher.publish(*_minute_batch("park", "s02", index + 1, index))
    wait_for(
        lambda: (
            _count(db, "SELECT count(*) FROM noisefleet.dead_letters") == len(cases)
            and _count(db, "SELECT count(*) FROM noisefleet_store.messages") == len(cases)
        ),
        what="every bad payload dead-lettered and every good one stored",
    )
    rows = db.execute(
        "SELECT reason, payload, topic FROM noisefleet.dead_letters ORDER BY received_at, id"
        if False
        else "SELECT d.reason, d.payload, d.topic FROM noisefleet_store.dead_letters d ORDER BY id"
    ).fetchall()
    for (reason, payload, topic_text), (case_topic, _, expected) in zip(rows, cases, strict=True):
        assert expected in reason, (expected, reason)
        assert "\n" not in reason
        assert topic_text == case_topic
        assert len(payload.encode()) <= 64 * 1024 * 4  # truncated to 64 KiB before escaping
    assert _count(db, "SELECT count(*) FROM noisefleet.levels WHERE sensor = 's02'") == 60 * len(
        cases
    )


def test_two_workers_share_the_load_and_store_everything_once(
    start_server: Callable[..., ServerProcess], publisher: Publisher, db: psycopg.Connection
) -> None:
    start_server("worker-1")
    start_server("worker-2")
    batches = [_minute_batch("park", f"s{n % 4}", n // 4 + 1, n) for n in range(80)]
    publisher.publish_many(batches)
    publisher.publish_many(batches[:20])  # redelivered copies, same message ids
    wait_for(
        lambda: _count(db, "SELECT count(*) FROM noisefleet_store.messages") == 80,
        what="80 messages",
    )
    assert _count(db, "SELECT count(*) FROM noisefleet.levels") == 80 * 60
    assert _count(db, "SELECT count(*) FROM noisefleet.sequence_gaps") == 0


def test_edge_replays_and_copies_under_new_ids_are_stored_once_and_close_gaps(
    start_server: Callable[..., ServerProcess], publisher: Publisher, db: psycopg.Connection
) -> None:
    start_server()
    publisher.publish(*_minute_batch("park", "s01", 1, 0))
    publisher.publish(*_minute_batch("park", "s01", 4, 3))  # 2 and 3 are missing so far
    wait_for(lambda: _count(db, "SELECT count(*) FROM noisefleet.sequence_gaps") == 1, what="gap")
    assert db.execute(
        "SELECT first_missing, last_missing FROM noisefleet.sequence_gaps"
    ).fetchall() == [(2, 3)]
    topic_text, payload = _minute_batch("park", "s01", 2, 1)
    publisher.publish(topic_text, payload)
    replay = json.loads(payload)
    replay["replayed"] = True
    publisher.publish(topic_text, json.dumps(replay).encode())  # the same id, replayed
    replay["message_id"] = str(uuid.uuid4())
    publisher.publish(topic_text, json.dumps(replay).encode())  # same records, another id
    publisher.publish(*_minute_batch("park", "s01", 3, 2))
    wait_for(
        lambda: (
            _count(db, "SELECT count(*) FROM noisefleet.sequence_gaps") == 0
            and _count(db, "SELECT count(*) FROM noisefleet_store.messages") == 5
        ),
        what="gaps closed",
    )
    assert _count(db, "SELECT count(*) FROM noisefleet.levels") == 4 * 60


def test_server_sigkill_mid_stream_loses_and_doubles_nothing(
    start_server: Callable[..., ServerProcess], publisher: Publisher, db: psycopg.Connection
) -> None:
    server = start_server(NOISEFLEET_INGEST_BATCH_MAX_MESSAGES="5")
    batches = [_minute_batch("park", "s01", n + 1, n) for n in range(200)]
    publisher.publish_many(batches[:100])
    wait_for(
        lambda: _count(db, "SELECT count(*) FROM noisefleet_store.messages") >= 10, what="some"
    )
    server.stop(signal.SIGKILL)
    publisher.publish_many(batches[100:])  # while no worker runs: queued in its session
    server.start()
    wait_for(
        lambda: _count(db, "SELECT count(*) FROM noisefleet_store.messages") == 200,
        timeout_s=60,
        what="all 200 messages",
    )
    assert _count(db, "SELECT count(*) FROM noisefleet.levels") == 200 * 60
    assert server.stop() == 0


def test_messages_published_while_every_worker_is_down_arrive_after_restart(
    start_server: Callable[..., ServerProcess], publisher: Publisher, db: psycopg.Connection
) -> None:
    one = start_server("worker-1")
    two = start_server("worker-2")
    assert one.stop() == 0
    assert two.stop() == 0
    publisher.publish_many([_minute_batch("park", "s01", n + 1, n) for n in range(50)])
    one.start()
    two.start()
    wait_for(
        lambda: _count(db, "SELECT count(*) FROM noisefleet_store.messages") == 50,
        timeout_s=60,
        what="the 50 queued messages",
    )
    assert _count(db, "SELECT count(*) FROM noisefleet.levels") == 50 * 60


def test_broker_restart_then_traffic_resumes(
    start_server: Callable[..., ServerProcess],
    broker: Mosquitto,
    db: psycopg.Connection,
) -> None:
    server = start_server()
    first = Publisher(broker.host, broker.port)
    first.publish(*_minute_batch("park", "s01", 1, 0))
    first.close()
    wait_for(lambda: _count(db, "SELECT count(*) FROM noisefleet_store.messages") == 1, what="1")
    broker.stop()
    broker.start()
    # mosquitto 2.0 does not restore the shared subscriptions of sessions across its own
    # restart (plain ones it does): until the worker subscribes again, a publish gets PUBACK
    # 0x10 "no matching subscribers", which the edge agent keeps in its outbox to retry.
    wait_for(lambda: server.log().count("ingest connected") >= 2, timeout_s=30, what="reconnect")
    second = Publisher(broker.host, broker.port)
    second.publish(*_minute_batch("park", "s01", 2, 1))
    second.close()
    wait_for(
        lambda: _count(db, "SELECT count(*) FROM noisefleet_store.messages") == 2,
        timeout_s=60,
        what="the message after the broker restart",
    )


def test_a_worker_that_leaves_ends_its_share_and_the_others_get_everything(
    start_server: Callable[..., ServerProcess], publisher: Publisher, db: psycopg.Connection
) -> None:
    staying = start_server("worker-1")
    leaving = start_server("worker-2", NOISEFLEET_MQTT_LEAVE_ON_STOP="true")
    publisher.publish_many([_minute_batch("park", "s01", n + 1, n) for n in range(20)])
    assert leaving.stop() == 0
    assert "session worker-2 ended" in leaving.log()
    publisher.publish_many([_minute_batch("park", "s01", n + 1, n) for n in range(20, 60)])
    wait_for(
        lambda: _count(db, "SELECT count(*) FROM noisefleet_store.messages") == 60,
        what="all 60 messages with one worker left",
    )
    assert staying.stop() == 0
