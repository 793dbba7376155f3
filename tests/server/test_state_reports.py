"""Commands stored as pending and answered by the agents' state reports (the server's
``state_reports.ingest_state`` and ``registry.record_answer``), and the heartbeat fields of
migration 0007 in ``noisefleet.heartbeats``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from noisefleet_core.contract.commands import StateReport, encode_command
from noisefleet_core.contract.topics import topic
from noisefleet_server import registry
from noisefleet_server.errors import CommandError, RegistryError
from noisefleet_server.state_reports import ingest_state
from tests.server.alert_harness import heartbeat_payload, ingest
from tests.server.helpers import status_payload

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _report(
    request_id: str | None, accepted: bool, reason: str | None, **settings: object
) -> bytes:
    report = StateReport(request_id, accepted, reason, settings, None, AT + timedelta(minutes=1))
    return encode_command(report)


def _run(url: str, work):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        async with conn:
            return await work(conn)

    return asyncio.run(main())


def _commands(db: psycopg.Connection) -> list[tuple[str, str, str | None]]:
    rows = db.execute(
        "SELECT kind, state, reason FROM noisefleet.sensor_commands ORDER BY requested_at"
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_a_command_is_pending_until_the_agent_applies_or_refuses_it(
    database_url: str, db: psycopg.Connection
):
    ingest(database_url, [status_payload("park", "s01", 1, "online")])
    applied, refused = str(uuid.uuid4()), str(uuid.uuid4())
    state_topic = topic("park", "s01", "state")

    async def send(conn):  # type: ignore[no-untyped-def]
        for n, request_id in enumerate((applied, refused)):
            await registry.record_command(
                conn, "park", "s01", request_id, "set", {"gate_level_db": 45 + n}, "olga", AT
            )

    _run(database_url, send)
    assert _commands(db) == [("set", "pending", None), ("set", "pending", None)]

    async def answer(conn):  # type: ignore[no-untyped-def]
        first = await ingest_state(
            conn, state_topic, _report(applied, True, None, gate_level_db=45)
        )
        again = await ingest_state(
            conn, state_topic, _report(applied, True, None, gate_level_db=45)
        )
        second = await ingest_state(
            conn, state_topic, _report(refused, False, "gate_level_db: 46 is not allowed")
        )
        own = await ingest_state(conn, state_topic, _report(None, True, None, gate_level_db=45))
        return first, again, second, own

    assert _run(database_url, answer) == (True, False, True, False)
    assert _commands(db) == [
        ("set", "applied", None),
        ("set", "refused", "gate_level_db: 46 is not allowed"),
    ]
    reported = db.execute(
        "SELECT reported_settings FROM noisefleet.sensors WHERE site = 'park' AND sensor = 's01'"
    ).fetchone()
    assert reported == ({"gate_level_db": 45},)


def test_bad_reports_and_unknown_sensors_are_one_line_errors(database_url: str):
    async def bad_payload(conn):  # type: ignore[no-untyped-def]
        await ingest_state(conn, topic("park", "s01", "state"), b"{not json")

    with pytest.raises(CommandError, match="noisefleet/v1/park/s01/state: "):
        _run(database_url, bad_payload)

    async def unknown(conn):  # type: ignore[no-untyped-def]
        await registry.record_command(
            conn, "park", "nobody", str(uuid.uuid4()), "set", {}, "olga", AT
        )

    with pytest.raises(RegistryError, match="sensor park/nobody is not known"):
        _run(database_url, unknown)


def test_the_heartbeat_view_has_source_failures_and_last_audio(
    database_url: str, db: psycopg.Connection
):
    ingest(
        database_url,
        [
            heartbeat_payload(
                AT, 5, site="park", sensor="s01", source_error="no device", source_failures=3
            )
        ],
    )
    row = db.execute(
        "SELECT cpu_percent, source_error, source_failures, last_audio_at"
        " FROM noisefleet.heartbeats WHERE site = 'park' AND sensor = 's01'"
    ).fetchone()
    assert row == (37.5, "no device", 3, AT)
