"""The alert tables (migration 0004): plain async functions taking a connection.

The evaluator works a batch of sensors per transaction: ``lock_sensors`` (other evaluators skip
those), ``take_dirty_many`` (deleting the marks inside the transaction: a rollback brings them
back), ``load_states_many``, then per sensor ``load_alerts``, ``apply_action``, ``save_states``
and the notifications, all committed together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from noisefleet_server.alerts.reconcile import Action, StoredAlert

ALERT_LOCK_SPACE = 0x4E41  # advisory lock namespace of per-sensor alert evaluation


def ts(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


@dataclass(frozen=True)
class SensorRef:
    sensor_id: int
    site: str
    sensor: str
    timezone: str


@dataclass(frozen=True)
class Dirty:
    levels_from: float | None
    levels_to: float | None
    events_from: float | None
    events_to: float | None
    health: bool = False


@dataclass(frozen=True)
class StateRow:
    rule_hash: str
    evaluated_to: float
    state: dict[str, Any]


async def dirty_sensors(conn: AsyncConnection, limit: int) -> list[SensorRef]:
    """Sensors with unevaluated data, oldest mark first."""
    cursor = await conn.execute(
        "SELECT s.sensor_id, s.site, s.sensor, coalesce(t.timezone, 'UTC')"
        " FROM noisefleet_store.alert_dirty d"
        " JOIN noisefleet_store.sensors s USING (sensor_id)"
        " LEFT JOIN noisefleet_store.sites t ON t.site = s.site"
        " ORDER BY d.marked_at LIMIT %s",
        (limit,),
    )
    return [SensorRef(*row) for row in await cursor.fetchall()]


async def all_sensors(conn: AsyncConnection) -> list[SensorRef]:
    cursor = await conn.execute(
        "SELECT s.sensor_id, s.site, s.sensor, coalesce(t.timezone, 'UTC')"
        " FROM noisefleet_store.sensors s LEFT JOIN noisefleet_store.sites t ON t.site = s.site"
        " ORDER BY s.sensor_id"
    )
    return [SensorRef(*row) for row in await cursor.fetchall()]


async def sensor_ref(conn: AsyncConnection, site: str, sensor: str) -> SensorRef | None:
    cursor = await conn.execute(
        "SELECT s.sensor_id, s.site, s.sensor, coalesce(t.timezone, 'UTC')"
        " FROM noisefleet_store.sensors s LEFT JOIN noisefleet_store.sites t ON t.site = s.site"
        " WHERE s.site = %s AND s.sensor = %s",
        (site, sensor),
    )
    row = await cursor.fetchone()
    return SensorRef(*row) if row else None


async def lock_sensors(conn: AsyncConnection, sensor_ids: Sequence[int]) -> list[int]:
    """The sensors whose evaluation lock this transaction got (others are being evaluated)."""
    cursor = await conn.execute(
        "SELECT id FROM unnest(%s::int4[]) AS id WHERE pg_try_advisory_xact_lock(%s, id)",
        (list(sensor_ids), ALERT_LOCK_SPACE),
    )
    return [row[0] for row in await cursor.fetchall()]


async def load_states_many(
    conn: AsyncConnection, sensor_ids: Sequence[int]
) -> dict[int, dict[str, StateRow]]:
    cursor = await conn.execute(
        "SELECT sensor_id, rule_id, rule_hash, extract(epoch FROM evaluated_to)::float8, state"
        " FROM noisefleet_store.alert_state WHERE sensor_id = ANY(%s)",
        (list(sensor_ids),),
    )
    out: dict[int, dict[str, StateRow]] = {i: {} for i in sensor_ids}
    for sid, rule_id, rule_hash, evaluated_to, state in await cursor.fetchall():
        out[sid][rule_id] = StateRow(rule_hash, evaluated_to, state)
    return out


async def take_dirty_many(conn: AsyncConnection, sensor_ids: Sequence[int]) -> dict[int, Dirty]:
    """Take (delete) the marks of these sensors; inside the caller's transaction, a rollback
    brings them back."""
    cursor = await conn.execute(
        "DELETE FROM noisefleet_store.alert_dirty WHERE sensor_id = ANY(%s)"
        " RETURNING sensor_id, levels_from, levels_to, events_from, events_to, health",
        (list(sensor_ids),),
    )
    return {
        row[0]: Dirty(epoch(row[1]), epoch(row[2]), epoch(row[3]), epoch(row[4]), bool(row[5]))
        for row in await cursor.fetchall()
    }


async def restore_dirty(conn: AsyncConnection, sensor_id: int, dirty: Dirty) -> None:
    """Put back a mark taken for a sensor whose evaluation failed (merged with newer marks)."""
    await conn.execute(
        "INSERT INTO noisefleet_store.alert_dirty AS d"
        " (sensor_id, levels_from, levels_to, events_from, events_to, health)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (sensor_id) DO UPDATE SET"
        " levels_from = LEAST(d.levels_from, EXCLUDED.levels_from),"
        " levels_to = GREATEST(d.levels_to, EXCLUDED.levels_to),"
        " events_from = LEAST(d.events_from, EXCLUDED.events_from),"
        " events_to = GREATEST(d.events_to, EXCLUDED.events_to),"
        " health = d.health OR EXCLUDED.health, generation = d.generation + 1",
        (
            sensor_id,
            ts(dirty.levels_from),
            ts(dirty.levels_to),
            ts(dirty.events_from),
            ts(dirty.events_to),
            dirty.health,
        ),
    )


async def save_states(
    conn: AsyncConnection,
    sensor_id: int,
    states: Sequence[tuple[str, str, float, dict[str, Any]]],
) -> None:
    """Upsert (rule_id, rule_hash, evaluated_to, state) of one sensor's rules at once (one
    JSON parameter: cheaper to send than four arrays)."""
    if not states:
        return
    rows = [
        {"rule_id": r, "rule_hash": h, "evaluated_to": t, "state": st} for r, h, t, st in states
    ]
    await conn.execute(
        "INSERT INTO noisefleet_store.alert_state"
        " (rule_id, sensor_id, rule_hash, evaluated_to, state)"
        " SELECT x.rule_id, %s, x.rule_hash, to_timestamp(x.evaluated_to), x.state"
        " FROM jsonb_to_recordset(%s::jsonb)"
        " AS x(rule_id text, rule_hash text, evaluated_to float8, state jsonb)"
        " ON CONFLICT (rule_id, sensor_id) DO UPDATE SET rule_hash = EXCLUDED.rule_hash,"
        " evaluated_to = EXCLUDED.evaluated_to, state = EXCLUDED.state",
        (sensor_id, json.dumps(rows, allow_nan=False)),
    )


async def load_alerts(
    conn: AsyncConnection, rule_id: str, sensor_id: int, since: float | None
) -> list[StoredAlert]:
    """The (rule, sensor)'s alerts pending since after ``since``, and its open one (only the
    open one when ``since`` is None)."""
    cursor = await conn.execute(
        "SELECT alert_id, state, tier_index, extract(epoch FROM pending_since)::float8,"
        " extract(epoch FROM fired_at)::float8, extract(epoch FROM resolved_at)::float8,"
        " late, suppressed FROM noisefleet_store.alerts"
        " WHERE rule_id = %s AND sensor_id = %s AND NOT withdrawn"
        " AND ((%s::timestamptz IS NOT NULL AND pending_since > %s)"
        " OR state IN ('pending', 'firing'))",
        (rule_id, sensor_id, ts(since), ts(since)),
    )
    return [StoredAlert(*row) for row in await cursor.fetchall()]


async def alert_windows(
    conn: AsyncConnection, rule_id: str, sensor_id: int, before: float
) -> list[tuple[float, float | None]]:
    """(pending_since, resolved_at) of the alerts that may hold a restart point at or before
    ``before``, latest first (see ``engine.restart_point``)."""
    cursor = await conn.execute(
        "SELECT extract(epoch FROM pending_since)::float8, extract(epoch FROM resolved_at)::float8"
        " FROM noisefleet_store.alerts WHERE rule_id = %s AND sensor_id = %s AND NOT withdrawn"
        " AND pending_since <= %s ORDER BY pending_since DESC LIMIT 1000",
        (rule_id, sensor_id, ts(before)),
    )
    return [(r[0], r[1]) for r in await cursor.fetchall()]


@dataclass(frozen=True)
class AlertFields:
    """What an insert or update writes, beyond the episode's times."""

    kind: str
    severity: str
    tier_name: str | None
    limit_value: float | None
    value: float | None
    message: str


async def apply_action(
    conn: AsyncConnection,
    rule_id: str,
    sensor_id: int,
    action: Action,
    fields: AlertFields | None,
    tier: int,
) -> int | None:
    """Write one action; the alert's id (None for a delete)."""
    e = action.episode
    if action.kind == "delete":
        await conn.execute(
            "DELETE FROM noisefleet_store.alerts WHERE alert_id = %s", (action.alert_id,)
        )
        return None
    if action.kind == "withdraw":
        await conn.execute(
            "UPDATE noisefleet_store.alerts SET state = 'resolved', withdrawn = true,"
            " resolved_at = coalesce(resolved_at, now()), updated_at = now()"
            " WHERE alert_id = %s",
            (action.alert_id,),
        )
        return action.alert_id
    assert e is not None
    assert fields is not None
    values = (
        e.state,
        fields.kind,
        fields.severity,
        fields.tier_name,
        tier,
        fields.limit_value,
        fields.value,
        e.peak,
        ts(e.peak_at),
        ts(e.pending_since),
        ts(e.fired_at),
        ts(e.ended_at),
        ts(e.resolved_at),
        action.late,
        e.suppressed,
        fields.message,
    )
    if action.kind == "insert":
        cursor = await conn.execute(
            "INSERT INTO noisefleet_store.alerts (state, kind, severity, tier, tier_index,"
            " limit_value, value, peak, peak_at, pending_since, fired_at, ended_at,"
            " resolved_at, late, suppressed, message, rule_id, sensor_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING alert_id",
            (*values, rule_id, sensor_id),
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])
    await conn.execute(
        "UPDATE noisefleet_store.alerts SET state = %s, kind = %s, severity = %s, tier = %s,"
        " tier_index = %s, limit_value = %s, value = %s, peak = %s, peak_at = %s,"
        " pending_since = %s, fired_at = %s, ended_at = %s, resolved_at = %s, late = %s,"
        " suppressed = %s, message = %s, updated_at = now() WHERE alert_id = %s",
        (*values, action.alert_id),
    )
    return action.alert_id


async def set_suppressed(
    conn: AsyncConnection, rule_id: str, sensor_id: int, pending_since: float, count: int
) -> None:
    await conn.execute(
        "UPDATE noisefleet_store.alerts SET suppressed = GREATEST(suppressed, %s),"
        " updated_at = now() WHERE rule_id = %s AND sensor_id = %s AND pending_since = %s",
        (count, rule_id, sensor_id, ts(pending_since)),
    )


async def acknowledge(conn: AsyncConnection, alert_id: int, user: str, comment: str | None) -> bool:
    cursor = await conn.execute(
        "UPDATE noisefleet_store.alerts SET acknowledged_at = now(), acknowledged_by = %s,"
        " ack_comment = %s, updated_at = now() WHERE alert_id = %s RETURNING alert_id",
        (user, comment, alert_id),
    )
    return await cursor.fetchone() is not None


async def db_rules(conn: AsyncConnection) -> list[dict[str, Any]]:
    cursor = await conn.execute("SELECT body FROM noisefleet_store.alert_rules ORDER BY rule_id")
    return [row[0] for row in await cursor.fetchall()]


async def put_rules(
    conn: AsyncConnection, bodies: Sequence[dict[str, Any]], user: str | None
) -> None:
    for body in bodies:
        await conn.execute(
            "INSERT INTO noisefleet_store.alert_rules (rule_id, body, updated_by)"
            " VALUES (%s, %s, %s) ON CONFLICT (rule_id) DO UPDATE SET body = EXCLUDED.body,"
            " updated_at = now(), updated_by = EXCLUDED.updated_by",
            (body["id"], json.dumps(body), user),
        )


async def delete_rule(conn: AsyncConnection, rule_id: str) -> bool:
    cursor = await conn.execute(
        "DELETE FROM noisefleet_store.alert_rules WHERE rule_id = %s RETURNING rule_id",
        (rule_id,),
    )
    return await cursor.fetchone() is not None


async def close_orphans(conn: AsyncConnection, rule_ids: Sequence[str]) -> int:
    """Rules removed or disabled: resolve their open alerts (noted in the message) and forget
    their evaluation state (a rule coming back starts afresh, not from where it stood)."""
    ids = list(rule_ids)
    cursor = await conn.execute(
        "UPDATE noisefleet_store.alerts SET state = 'resolved', resolved_at = now(),"
        " message = message || ' (closed: the rule was removed or disabled)', updated_at = now()"
        " WHERE state IN ('pending', 'firing') AND NOT (rule_id = ANY(%s))",
        (ids,),
    )
    await conn.execute(
        "DELETE FROM noisefleet_store.alert_state WHERE NOT (rule_id = ANY(%s))", (ids,)
    )
    return cursor.rowcount
