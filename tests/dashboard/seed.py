"""A small known fleet, stored through the server's own ingest, registry and roll-ups.

- site ``tower`` (Europe/Berlin, limits day 55 / evening 50 / night 45, on the map): sensor
  ``roof`` with 30 min of 1-s records from ``t0``, the first 15 min at 50 dB and the next 15
  at 60 dB (energy mean 57.40 dB; energy shares: the quiet minutes all background, the loud
  ones 80 % traffic, so traffic is 72.7 % of the energy), a heartbeat (outbox 3, model
  urban-sed-int8, calibrated
  2026-10-02) and one firing alert;
- site ``depot`` (UTC, limit day 65): sensor ``gate`` with 10 min at 70 dB from ``t0``;
- sensor ``x1`` of the unregistered site ``annex``: pending;
- users: ``admin`` (admin), ``olga`` (operator of tower), ``oscar`` (operator of depot),
  ``vera`` (viewer of tower); every password is ``PASSWORD``.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from noisefleet_core.contract.topics import topic
from noisefleet_dashboard import accounts
from noisefleet_server.db.rollups_sql import run_rollup_pass
from noisefleet_server.registry import add_site, assign_sensor
from tests.server.alert_harness import heartbeat_payload, ingest
from tests.server.helpers import envelope, level_record, levels_payload

PASSWORD = "correct horse battery"
TOWER_LAEQ = 10 * math.log10((10**5.0 + 10**6.0) / 2)
TOWER_SHARES = {50.0: {"background": 1.0}, 60.0: {"traffic": 0.8, "background": 0.2}}
TOWER_TRAFFIC_SHARE = 0.8 * 10**6.0 / (10**5.0 + 10**6.0)
"""Traffic's share of the tower's energy: 0.8 of the loud quarter hour, which holds 10/11."""


@dataclass(frozen=True)
class Fleet:
    url: str
    t0: datetime
    end: datetime
    """When the last message was sent (the fleet's "now")."""


def _minutes(
    site: str,
    sensor: str,
    t0: datetime,
    levels: list[float],
    shares: dict[float, dict[str, float]] | None = None,
) -> list[tuple[str, bytes]]:
    """One levels message per minute of 1-s records; ``shares``: energy shares per level."""
    messages = []
    for minute, level in enumerate(levels):
        start = t0 + timedelta(minutes=minute)
        share = (shares or {}).get(level)
        records = [
            level_record(start + timedelta(seconds=k), level, shares=share) for k in range(60)
        ]
        sent = start + timedelta(seconds=60)
        messages.append(levels_payload(site, sensor, minute + 1, records, sent_at=sent))
    return messages


def _status(site: str, sensor: str, sequence: int, sent: datetime) -> tuple[str, bytes]:
    data = envelope(site, sensor, sequence, "status", state="online", reason=None, sent_at=sent)
    return topic(site, sensor, "status"), json.dumps(data).encode()


async def _register(url: str) -> None:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    async with conn:
        await add_site(
            conn,
            "tower",
            kind="real_estate",
            timezone="Europe/Berlin",
            name="Tower A",
            lat=52.52,
            lon=13.40,
            limits={"day": 55, "evening": 50, "night": 45},
        )
        await add_site(conn, "depot", kind="city", timezone="UTC", limits={"day": 65})
        await assign_sensor(conn, "tower", "roof")
        await assign_sensor(conn, "depot", "gate")
        while (await run_rollup_pass(conn, 10_000)).hours:
            pass


def seed_fleet(url: str, t0: datetime) -> Fleet:
    end = t0 + timedelta(minutes=30)
    messages = [
        *_minutes("tower", "roof", t0, [50.0] * 15 + [60.0] * 15, TOWER_SHARES),
        *_minutes("depot", "gate", t0, [70.0] * 10),
        _status("tower", "roof", 30, t0),
        _status("annex", "x1", 1, t0),
        heartbeat_payload(end, 31, site="tower", sensor="roof"),
    ]
    ingest(url, messages)
    asyncio.run(_register(url))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO noisefleet_store.alerts (rule_id, sensor_id, state, kind, severity,"
            " pending_since, fired_at, message) SELECT 'loud', sensor_id, 'firing', 'level',"
            " 'warning', %s, %s, 'LAeq above 55 dB' FROM noisefleet_store.sensors"
            " WHERE site = 'tower' AND sensor = 'roof'",
            (t0 + timedelta(minutes=20), t0 + timedelta(minutes=21)),
        )
        accounts.add_user(conn, "admin", PASSWORD, "admin")
        accounts.add_user(conn, "olga", PASSWORD, "operator", ["tower"])
        accounts.add_user(conn, "oscar", PASSWORD, "operator", ["depot"])
        accounts.add_user(conn, "vera", PASSWORD, "viewer", ["tower"])
    return Fleet(url, t0, end)
