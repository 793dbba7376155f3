"""The fleet registry: sites, sensors and their desired settings (plain async SQL functions).

Sensors register themselves as ``pending`` with their first message (their data is kept); an
operator adds the site (``sites add``) and assigns the sensor to it (``sensors assign``). The
settings an operator sets are kept here as the sensor's desired settings, because an edge agent
does not keep remote changes across its own restarts: they are re-sent whenever the sensor's
status turns ``online``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiomqtt
from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from noisefleet_core.contract.commands import (
    SetCommand,
    StateReport,
    command_topic,
    encode_command,
)
from noisefleet_core.contract.fields import ContractError
from noisefleet_core.contract.topics import TopicError, check_id
from noisefleet_server.errors import RegistryError

log = logging.getLogger("noisefleet.registry")

SITE_KINDS = ("real_estate", "city")
PERIODS = ("day", "evening", "night")


@dataclass(frozen=True)
class Site:
    site: str
    name: str | None
    kind: str
    address: str | None
    lat: float | None
    lon: float | None
    timezone: str
    limits: dict[str, float]


@dataclass(frozen=True)
class SensorRow:
    site: str
    sensor: str
    pending: bool
    status: str | None
    last_seen: datetime | None
    model_name: str | None
    outbox_depth: int | None
    desired_settings: dict[str, Any]
    reported_settings: dict[str, Any] | None


def _check_id(value: str, what: str) -> None:
    try:
        check_id(value, what)
    except TopicError as error:
        raise RegistryError(str(error)) from None


def validate_site(
    site: str,
    kind: str,
    timezone: str,
    lat: float | None,
    lon: float | None,
    limits: Mapping[str, float] | None,
) -> None:
    _check_id(site, "site")
    if kind not in SITE_KINDS:
        raise RegistryError(f"--kind: {kind!r} is not one of {', '.join(SITE_KINDS)}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RegistryError(f"--timezone: {timezone!r} is not an IANA time zone") from None
    if lat is not None and not -90 <= lat <= 90:
        raise RegistryError(f"--lat: {lat} is outside -90..90")
    if lon is not None and not -180 <= lon <= 180:
        raise RegistryError(f"--lon: {lon} is outside -180..180")
    for period, value in (limits or {}).items():
        if period not in PERIODS:
            raise RegistryError(f"limits: unknown period {period!r} (use {', '.join(PERIODS)})")
        if not isinstance(value, int | float) or not 0 < value < 200:
            raise RegistryError(f"limits.{period}: {value!r} is not a level in dB")


async def add_site(
    conn: AsyncConnection,
    site: str,
    *,
    kind: str,
    timezone: str,
    name: str | None = None,
    address: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    limits: Mapping[str, float] | None = None,
) -> bool:
    """Add or update a site; True when it is new. Day roll-ups follow a changed time zone."""
    validate_site(site, kind, timezone, lat, lon, limits)
    cursor = await conn.execute(
        "INSERT INTO noisefleet_store.sites (site, name, kind, address, lat, lon, timezone, limits)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (site) DO UPDATE SET name = coalesce(EXCLUDED.name, sites.name),"
        " kind = EXCLUDED.kind, address = coalesce(EXCLUDED.address, sites.address),"
        " lat = coalesce(EXCLUDED.lat, sites.lat), lon = coalesce(EXCLUDED.lon, sites.lon),"
        " timezone = EXCLUDED.timezone,"
        " limits = CASE WHEN EXCLUDED.limits = '{}'::jsonb THEN sites.limits"
        " ELSE EXCLUDED.limits END"
        " RETURNING (xmax = 0)",
        (site, name, kind, address, lat, lon, timezone, json.dumps(dict(limits or {}))),
    )
    row = await cursor.fetchone()
    await mark_site_days_dirty(conn, site)
    return bool(row and row[0])


async def mark_site_days_dirty(conn: AsyncConnection, site: str) -> None:
    """Recompute the site's day roll-ups and Lden (after a time zone change or assignment)."""
    await conn.execute(
        "INSERT INTO noisefleet_store.dirty_hours (sensor_id, hour)"
        " SELECT r.sensor_id, r.start FROM noisefleet_store.rollup_1h r"
        " JOIN noisefleet_store.sensors s USING (sensor_id) WHERE s.site = %s"
        " ON CONFLICT DO NOTHING",
        (site,),
    )


async def list_sites(conn: AsyncConnection) -> list[Site]:
    cur = conn.cursor(row_factory=class_row(Site))
    await cur.execute(
        "SELECT site, name, kind, address, lat, lon, timezone, limits"
        " FROM noisefleet_store.sites ORDER BY site"
    )
    return await cur.fetchall()


async def list_sensors(conn: AsyncConnection, pending_only: bool = False) -> list[SensorRow]:
    cur = conn.cursor(row_factory=class_row(SensorRow))
    await cur.execute(
        "SELECT site, sensor, pending, status, last_seen, model_name, outbox_depth,"
        " desired_settings, reported_settings FROM noisefleet_store.sensors"
        " WHERE NOT %s OR pending ORDER BY site, sensor",
        (pending_only,),
    )
    return await cur.fetchall()


async def assign_sensor(conn: AsyncConnection, site: str, sensor: str) -> None:
    """Confirm a (pending) sensor as belonging to a registered site."""
    _check_id(site, "site")
    _check_id(sensor, "sensor")
    cursor = await conn.execute("SELECT 1 FROM noisefleet_store.sites WHERE site = %s", (site,))
    if await cursor.fetchone() is None:
        raise RegistryError(f"site {site!r} is not registered: add it with `sites add {site}`")
    await conn.execute(
        "INSERT INTO noisefleet_store.sensors (site, sensor, pending) VALUES (%s, %s, false)"
        " ON CONFLICT (site, sensor) DO UPDATE SET pending = false",
        (site, sensor),
    )
    await mark_site_days_dirty(conn, site)


def parse_settings(assignments: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse as JSON (numbers, true, lists),
    else strings."""
    changes: dict[str, Any] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise RegistryError(f"{item!r}: expected key=value (e.g. gate_level_db=45)")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        changes[key.strip()] = value
    return changes


async def set_desired(
    conn: AsyncConnection, site: str, sensor: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge ``changes`` into the sensor's desired settings; the merged settings."""
    cursor = await conn.execute(
        "UPDATE noisefleet_store.sensors SET desired_settings = desired_settings || %s::jsonb"
        " WHERE site = %s AND sensor = %s RETURNING desired_settings",
        (json.dumps(dict(changes)), site, sensor),
    )
    row = await cursor.fetchone()
    if row is None:
        raise RegistryError(f"sensor {site}/{sensor} is not known (see `sensors list`)")
    return dict(row[0])


async def record_state(
    conn: AsyncConnection, site: str, sensor: str, settings: Mapping[str, Any], at: datetime
) -> None:
    await conn.execute(
        "UPDATE noisefleet_store.sensors SET reported_settings = %s::jsonb, reported_at = %s"
        " WHERE site = %s AND sensor = %s",
        (json.dumps(dict(settings)), at, site, sensor),
    )


def set_command(changes: Mapping[str, Any]) -> SetCommand:
    try:
        return SetCommand(str(uuid.uuid4()), datetime.now(UTC), changes)
    except ContractError as error:
        raise RegistryError(str(error)) from None


async def resend_desired_settings(
    pool: AsyncConnectionPool, client: aiomqtt.Client, sensor_ids: Sequence[int]
) -> int:
    """Publish each sensor's desired settings (when it has any) as a ``set``; how many."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT site, sensor, desired_settings FROM noisefleet_store.sensors"
            " WHERE sensor_id = ANY(%s) AND desired_settings <> '{}'::jsonb",
            (list(sensor_ids),),
        )
        rows = await cursor.fetchall()
    for site, sensor, desired in rows:
        command = set_command(desired)
        await client.publish(command_topic(site, sensor, command), encode_command(command), qos=1)
        log.info("re-sent desired settings to %s/%s (%s)", site, sensor, ", ".join(desired))
    return len(rows)


COMMAND_KINDS = ("set", "model")


async def record_command(
    conn: AsyncConnection,
    site: str,
    sensor: str,
    request_id: str,
    kind: str,
    body: Mapping[str, Any],
    requested_by: str,
    at: datetime,
) -> None:
    """Store a command as ``pending`` before it is sent (its answer arrives later, see
    ``record_answer``)."""
    if kind not in COMMAND_KINDS:
        raise RegistryError(f"command kind {kind!r}: one of {', '.join(COMMAND_KINDS)}")
    cursor = await conn.execute(
        "INSERT INTO noisefleet_store.sensor_commands"
        " (request_id, sensor_id, kind, body, requested_by, requested_at)"
        " SELECT %s, sensor_id, %s, %s::jsonb, %s, %s FROM noisefleet_store.sensors"
        " WHERE site = %s AND sensor = %s RETURNING request_id",
        (request_id, kind, json.dumps(dict(body)), requested_by, at, site, sensor),
    )
    if await cursor.fetchone() is None:
        raise RegistryError(f"sensor {site}/{sensor} is not known (see `sensors list`)")


async def record_answer(conn: AsyncConnection, site: str, sensor: str, report: StateReport) -> bool:
    """Store an agent's state report: the settings in force and, when it answers a command we
    sent, that command's outcome (``applied`` or ``refused`` with the reason). True when it
    answered a stored pending command. A report older than the one stored changes nothing."""
    async with conn.transaction():
        at = report.reported_at
        await conn.execute(
            "UPDATE noisefleet_store.sensors SET reported_settings = %s::jsonb, reported_at = %s"
            " WHERE site = %s AND sensor = %s AND (reported_at IS NULL OR reported_at <= %s)",
            (json.dumps(dict(report.settings)), at, site, sensor, at),
        )
        if report.request_id is None:
            return False
        cursor = await conn.execute(
            "UPDATE noisefleet_store.sensor_commands c SET state = %s, reason = %s,"
            " answered_at = %s FROM noisefleet_store.sensors s"
            " WHERE c.request_id = %s AND s.sensor_id = c.sensor_id AND s.site = %s"
            " AND s.sensor = %s AND c.state = 'pending' RETURNING c.request_id",
            (
                "applied" if report.accepted else "refused",
                report.reason,
                report.reported_at,
                report.request_id,
                site,
                sensor,
            ),
        )
        return await cursor.fetchone() is not None
