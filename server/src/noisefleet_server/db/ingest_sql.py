"""The ingest transaction: one batch of classified messages stored exactly once.

``store_batch`` runs inside the caller's transaction:
1. register sensors never seen before (``pending``), and take a transaction lock per sensor in
   id order (two workers merging the same sensor-minute wait for each other, never deadlock);
2. insert the message ids; only ids not stored before go on (redeliveries, another worker's
   copy and edge replays with the same id are dropped here);
3. merge level records into sensor-minute rows (``minute_rows_sql.store_levels``: a record
   already stored under its start is a duplicate), written with COPY and one upsert;
4. upsert events by ``event_id`` (a later part or the end report wins), heartbeats, status;
5. update each sensor's highest data sequence and its gaps (filled by replays);
6. mark the hours touched for the roll-up maintenance, and the span of time touched per sensor
   for the alert evaluator (``alert_dirty``); store the dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from psycopg import AsyncConnection

from noisefleet_core.contract.levels import parse_timestamp
from noisefleet_core.contract.messages import (
    EventsMessage,
    HeartbeatMessage,
    LevelsMessage,
    StatusMessage,
)
from noisefleet_core.contract.records import EventRecordIn
from noisefleet_server.db.minute_rows_sql import PartitionCache, store_levels
from noisefleet_server.ingest.classify import Accepted, Rejected
from noisefleet_server.ingest.minutes import hour_of
from noisefleet_server.ingest.sequences import SequenceState, advance

SENSOR_LOCK_SPACE = 0x4E46  # advisory lock namespace of per-sensor ingest locks

DATA_KINDS_WITH_SEQUENCE = ("levels", "events", "heartbeat")


@dataclass
class BatchResult:
    new_messages: int = 0
    duplicate_messages: int = 0
    level_records: int = 0
    events: int = 0
    dead_letters: int = 0
    came_online: list[int] = field(default_factory=list)
    """Sensor ids whose status became ``online`` (desired settings are re-sent to them)."""


class SensorCache:
    """(site, sensor) → sensor_id, filled from the registry as sensors appear."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], int] = {}

    async def resolve(self, conn: AsyncConnection, keys: Iterable[tuple[str, str]]) -> None:
        missing = sorted({k for k in keys if k not in self.ids})
        if not missing:
            return
        sites = [k[0] for k in missing]
        sensors = [k[1] for k in missing]
        await conn.execute(
            "INSERT INTO noisefleet_store.sensors (site, sensor)"
            " SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT (site, sensor) DO NOTHING",
            (sites, sensors),
        )
        cursor = await conn.execute(
            "SELECT s.sensor_id, s.site, s.sensor FROM noisefleet_store.sensors s"
            " JOIN unnest(%s::text[], %s::text[]) AS k(site, sensor) USING (site, sensor)",
            (sites, sensors),
        )
        for sensor_id, site, sensor in await cursor.fetchall():
            self.ids[(site, sensor)] = sensor_id


def _event_rank(part: int, phase: str, final: bool) -> int:
    return part * 4 + (2 if phase == "end" else 0) + (1 if final else 0)


async def _store_events(
    conn: AsyncConnection, items: list[tuple[int, Accepted]]
) -> tuple[int, set[tuple[int, datetime]]]:
    best: dict[str, tuple[int, int, str, EventRecordIn]] = {}
    for sensor_id, item in items:
        message = item.message
        assert isinstance(message, EventsMessage)
        for event in item.events:
            rank = _event_rank(event.part, message.phase, event.final)
            current = best.get(event.event_id)
            if current is None or rank > current[0]:
                best[event.event_id] = (rank, sensor_id, message.phase, event)
    if not best:
        return 0, set()
    rows = []
    hours = set()
    for event_id, (rank, sensor_id, phase, event) in best.items():
        e = event
        rows.append(
            (
                event_id,
                sensor_id,
                e.label,
                e.start,
                e.end,
                e.laeq_db,
                e.lafmax_db,
                e.lae_db,
                e.confidence_peak,
                e.confidence_mean,
                json.dumps([{"label": r.label, "score": r.score} for r in e.runner_up]),
                e.part,
                e.final,
                phase,
                rank,
            )
        )
        hours.add((sensor_id, hour_of(e.start)))
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        'INSERT INTO noisefleet_store.events (event_id, sensor_id, label, start, "end",'
        " laeq_db, lafmax_db, lae_db, confidence_peak, confidence_mean, runner_up, part, final,"
        " phase, rank)"
        " SELECT * FROM unnest(%s::text[], %s::int4[], %s::text[], %s::timestamptz[],"
        " %s::timestamptz[], %s::float8[], %s::float8[], %s::float8[], %s::float8[],"
        " %s::float8[], %s::jsonb[], %s::int4[], %s::bool[], %s::text[], %s::int4[])"
        " ON CONFLICT (event_id) DO UPDATE SET label = EXCLUDED.label,"
        ' start = LEAST(events.start, EXCLUDED.start), "end" = GREATEST(events."end",'
        ' EXCLUDED."end"), laeq_db = EXCLUDED.laeq_db, lafmax_db = EXCLUDED.lafmax_db,'
        " lae_db = EXCLUDED.lae_db, confidence_peak = EXCLUDED.confidence_peak,"
        " confidence_mean = EXCLUDED.confidence_mean, runner_up = EXCLUDED.runner_up,"
        " part = EXCLUDED.part, final = EXCLUDED.final, phase = EXCLUDED.phase,"
        " rank = EXCLUDED.rank"
        " WHERE EXCLUDED.rank > events.rank",
        [list(c) for c in columns],
    )
    return len(rows), hours


async def _store_heartbeats(conn: AsyncConnection, items: list[tuple[int, Accepted]]) -> None:
    if not items:
        return
    rows = []
    for sensor_id, item in items:
        m = item.message
        assert isinstance(m, HeartbeatMessage)
        rows.append(
            (
                sensor_id,
                m.envelope.sent_at,
                m.uptime_s,
                m.cpu_percent,
                m.temperature_c,
                m.disk_free_bytes,
                m.outbox_depth,
                m.outbox_dropped,
                m.dropped_frames,
                m.clock_synced,
                m.model_sha256,
                m.model_name,
                m.feature_params_hash,
                m.calibration_offset_db,
                date.fromisoformat(m.calibration_date) if m.calibration_date else None,
                m.source_error,
                m.source_failures,
                parse_timestamp(m.last_audio_at) if m.last_audio_at else None,
            )
        )
    columns = [list(c) for c in zip(*rows, strict=True)]
    await conn.execute(
        "INSERT INTO noisefleet_store.heartbeats (sensor_id, sent_at, uptime_s, cpu_percent,"
        " temperature_c, disk_free_bytes, outbox_depth, outbox_dropped, dropped_frames,"
        " clock_synced, model_sha256, source_error, source_failures, last_audio_at)"
        " SELECT * FROM unnest(%s::int4[], %s::timestamptz[], %s::float8[], %s::float8[],"
        " %s::float8[], %s::int8[], %s::int4[], %s::int4[], %s::int8[], %s::bool[], %s::text[],"
        " %s::text[], %s::int4[], %s::timestamptz[])"
        " ON CONFLICT DO NOTHING",
        [*columns[:11], *columns[15:18]],
    )
    await conn.execute(
        "UPDATE noisefleet_store.sensors s SET heartbeat_at = h.sent_at,"
        " outbox_depth = h.outbox_depth, model_sha256 = h.model_sha256,"
        " model_name = h.model_name, feature_params_hash = h.feature_params_hash,"
        " calibration_offset_db = h.calibration_offset_db,"
        " calibration_date = h.calibration_date"
        " FROM (SELECT DISTINCT ON (sensor_id) * FROM unnest(%s::int4[], %s::timestamptz[],"
        " %s::int4[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::date[])"
        " AS u(sensor_id, sent_at, outbox_depth, model_sha256, model_name, feature_params_hash,"
        " calibration_offset_db, calibration_date) ORDER BY sensor_id, sent_at DESC) h"
        " WHERE s.sensor_id = h.sensor_id"
        " AND (s.heartbeat_at IS NULL OR s.heartbeat_at < h.sent_at)",
        [
            columns[0],
            columns[1],
            columns[6],
            columns[10],
            columns[11],
            columns[12],
            columns[13],
            columns[14],
        ],
    )


async def _store_status(conn: AsyncConnection, items: list[tuple[int, Accepted]]) -> list[int]:
    if not items:
        return []
    rows = []
    for sensor_id, item in items:
        m = item.message
        assert isinstance(m, StatusMessage)
        rows.append((sensor_id, m.envelope.sent_at, m.state, m.reason))
    columns = [list(c) for c in zip(*rows, strict=True)]
    await conn.execute(
        "INSERT INTO noisefleet_store.status_log (sensor_id, at, state, reason)"
        " SELECT * FROM unnest(%s::int4[], %s::timestamptz[], %s::text[], %s::text[])"
        " ON CONFLICT DO NOTHING",
        columns,
    )
    cursor = await conn.execute(
        "WITH latest AS (SELECT DISTINCT ON (sensor_id) * FROM unnest(%s::int4[],"
        " %s::timestamptz[], %s::text[], %s::text[]) AS u(sensor_id, at, state, reason)"
        " ORDER BY sensor_id, at DESC)"
        " UPDATE noisefleet_store.sensors s SET status = l.state, status_reason = l.reason,"
        " status_at = l.at FROM latest l"
        " WHERE s.sensor_id = l.sensor_id AND (s.status_at IS NULL OR s.status_at <= l.at)"
        " RETURNING s.sensor_id, l.state",
        columns,
    )
    return [sid for sid, state in await cursor.fetchall() if state == "online"]


async def _store_sequences(conn: AsyncConnection, items: list[tuple[int, Accepted]]) -> None:
    per_sensor: dict[int, list[int]] = {}
    for sensor_id, item in items:
        if item.message.KIND in DATA_KINDS_WITH_SEQUENCE:
            per_sensor.setdefault(sensor_id, []).append(item.message.envelope.sequence)
    if not per_sensor:
        return
    ids = sorted(per_sensor)
    cursor = await conn.execute(
        "SELECT sensor_id, max_sequence FROM noisefleet_store.sequences WHERE sensor_id = ANY(%s)",
        (ids,),
    )
    maxima: dict[int, int] = {row[0]: row[1] for row in await cursor.fetchall()}
    cursor = await conn.execute(
        "SELECT sensor_id, first_missing, last_missing FROM noisefleet_store.sequence_gaps"
        " WHERE sensor_id = ANY(%s)",
        (ids,),
    )
    gaps: dict[int, list[tuple[int, int]]] = {}
    for sensor_id, first, last in await cursor.fetchall():
        gaps.setdefault(sensor_id, []).append((first, last))
    new_max: list[tuple[int, int]] = []
    changed_gaps: dict[int, list[tuple[int, int]]] = {}
    for sensor_id in ids:
        before = SequenceState(maxima.get(sensor_id), tuple(sorted(gaps.get(sensor_id, []))))
        after = advance(before, per_sensor[sensor_id])
        if after.max_sequence != before.max_sequence and after.max_sequence is not None:
            new_max.append((sensor_id, after.max_sequence))
        if after.gaps != before.gaps:
            changed_gaps[sensor_id] = list(after.gaps)
    if new_max:
        await conn.execute(
            "INSERT INTO noisefleet_store.sequences (sensor_id, max_sequence)"
            " SELECT * FROM unnest(%s::int4[], %s::int8[])"
            " ON CONFLICT (sensor_id) DO UPDATE SET max_sequence = EXCLUDED.max_sequence",
            ([s for s, _ in new_max], [m for _, m in new_max]),
        )
    if changed_gaps:
        await conn.execute(
            "DELETE FROM noisefleet_store.sequence_gaps WHERE sensor_id = ANY(%s)",
            (sorted(changed_gaps),),
        )
        flat = [(s, a, b) for s, spans in changed_gaps.items() for a, b in spans]
        if flat:
            await conn.execute(
                "INSERT INTO noisefleet_store.sequence_gaps (sensor_id, first_missing,"
                " last_missing) SELECT * FROM unnest(%s::int4[], %s::int8[], %s::int8[])",
                ([f[0] for f in flat], [f[1] for f in flat], [f[2] for f in flat]),
            )


async def _mark_alert_dirty(conn: AsyncConnection, fresh: Sequence[tuple[int, Accepted]]) -> None:
    """Per sensor, the span of measurement time its new level records and events touch (what
    the alert evaluator must re-read), and whether a status message came (health rules then
    run at once)."""
    spans: dict[tuple[int, str], tuple[datetime, datetime]] = {}
    health = {sid for sid, a in fresh if a.message.KIND == StatusMessage.KIND}
    for sid, a in fresh:
        for kind, items in (("levels", a.levels), ("events", a.events)):
            if not items:
                continue
            start, end = min(r.start for r in items), max(r.end for r in items)
            if (sid, kind) in spans:
                before = spans[(sid, kind)]
                start, end = min(start, before[0]), max(end, before[1])
            spans[(sid, kind)] = (start, end)
    if not spans and not health:
        return
    ids = sorted({sid for sid, _ in spans} | health)

    def column(kind: str, index: int) -> list[datetime | None]:
        return [spans[(i, kind)][index] if (i, kind) in spans else None for i in ids]

    await conn.execute(
        "INSERT INTO noisefleet_store.alert_dirty AS d"
        " (sensor_id, levels_from, levels_to, events_from, events_to, health)"
        " SELECT * FROM unnest(%s::int4[], %s::timestamptz[], %s::timestamptz[],"
        " %s::timestamptz[], %s::timestamptz[], %s::bool[])"
        " ON CONFLICT (sensor_id) DO UPDATE SET"
        " levels_from = LEAST(d.levels_from, EXCLUDED.levels_from),"
        " levels_to = GREATEST(d.levels_to, EXCLUDED.levels_to),"
        " events_from = LEAST(d.events_from, EXCLUDED.events_from),"
        " events_to = GREATEST(d.events_to, EXCLUDED.events_to),"
        " health = d.health OR EXCLUDED.health,"
        " generation = d.generation + 1, marked_at = now()",
        (
            ids,
            column("levels", 0),
            column("levels", 1),
            column("events", 0),
            column("events", 1),
            [i in health for i in ids],
        ),
    )


async def store_dead_letters(conn: AsyncConnection, dead: Sequence[Rejected]) -> None:
    if not dead:
        return
    await conn.execute(
        "INSERT INTO noisefleet_store.dead_letters (topic, reason, payload, payload_bytes)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::int4[])",
        (
            [d.topic for d in dead],
            [d.reason for d in dead],
            [d.payload for d in dead],
            [d.payload_bytes for d in dead],
        ),
    )


async def store_batch(
    conn: AsyncConnection,
    accepted: Sequence[Accepted],
    dead: Sequence[Rejected],
    sensors: SensorCache,
    partitions: PartitionCache,
) -> BatchResult:
    """Store one batch (see the module docstring); the caller commits."""
    result = BatchResult(dead_letters=len(dead))
    await store_dead_letters(conn, dead)
    if not accepted:
        return result
    keys = {(a.message.envelope.site, a.message.envelope.sensor) for a in accepted}
    await sensors.resolve(conn, keys)
    ids = sorted({sensors.ids[k] for k in keys})
    await conn.execute(
        "SELECT pg_advisory_xact_lock(%s, id)"
        " FROM (SELECT id FROM unnest(%s::int4[]) AS id ORDER BY id) AS ordered",
        (SENSOR_LOCK_SPACE, ids),
    )
    unique: dict[str, tuple[int, Accepted]] = {}
    for a in accepted:
        e = a.message.envelope
        unique.setdefault(e.message_id, (sensors.ids[(e.site, e.sensor)], a))
    entries = list(unique.values())
    cursor = await conn.execute(
        "INSERT INTO noisefleet_store.messages (message_id, sensor_id, kind, sequence, sent_at,"
        " replayed) SELECT * FROM unnest(%s::uuid[], %s::int4[], %s::text[], %s::int8[],"
        " %s::timestamptz[], %s::bool[]) ON CONFLICT DO NOTHING RETURNING message_id::text",
        (
            [a.message.envelope.message_id for _, a in entries],
            [sid for sid, _ in entries],
            [a.message.KIND for _, a in entries],
            [a.message.envelope.sequence for _, a in entries],
            [a.message.envelope.sent_at for _, a in entries],
            [a.message.envelope.replayed for _, a in entries],
        ),
    )
    fresh_ids = {row[0] for row in await cursor.fetchall()}
    fresh = [(sid, a) for sid, a in entries if a.message.envelope.message_id in fresh_ids]
    result.new_messages = len(fresh)
    result.duplicate_messages = len(accepted) - len(fresh)
    if not fresh:
        return result
    by_kind: dict[str, list[tuple[int, Accepted]]] = {}
    for sid, a in fresh:
        by_kind.setdefault(a.message.KIND, []).append((sid, a))
    result.level_records, level_hours = await store_levels(
        conn, by_kind.get(LevelsMessage.KIND, []), partitions
    )
    result.events, event_hours = await _store_events(conn, by_kind.get(EventsMessage.KIND, []))
    await _store_heartbeats(conn, by_kind.get(HeartbeatMessage.KIND, []))
    result.came_online = await _store_status(conn, by_kind.get(StatusMessage.KIND, []))
    await _store_sequences(conn, fresh)
    last_seen: dict[int, datetime] = {}
    for sid, a in fresh:
        sent = a.message.envelope.sent_at
        if sid not in last_seen or sent > last_seen[sid]:
            last_seen[sid] = sent
    await conn.execute(
        "UPDATE noisefleet_store.sensors s SET last_seen = GREATEST(s.last_seen, u.at)"
        " FROM unnest(%s::int4[], %s::timestamptz[]) AS u(sensor_id, at)"
        " WHERE s.sensor_id = u.sensor_id",
        (list(last_seen), list(last_seen.values())),
    )
    await _mark_alert_dirty(conn, fresh)
    dirty = sorted(level_hours | event_hours)
    if dirty:
        await conn.execute(
            "INSERT INTO noisefleet_store.dirty_hours (sensor_id, hour)"
            " SELECT * FROM unnest(%s::int4[], %s::timestamptz[]) ON CONFLICT DO NOTHING",
            ([d[0] for d in dirty], [d[1] for d in dirty]),
        )
    return result
