"""The notification queue's SQL: plain async functions taking a connection.

- ``enqueue``: in the caller's transaction (the alert engine's), one row per notifier with the
  body serialised once per row, and ``pg_notify`` so the delivery worker wakes at commit;
- ``claim``: the due rows of one notifier, ``FOR UPDATE SKIP LOCKED`` (several server processes
  share the queue), each leased to the claiming worker; a row waits while an earlier row of the
  same alert and notifier is open, so a receiver never sees "resolved" before its "firing";
- ``mark_delivered`` / ``mark_retry`` / ``mark_failed``: the outcome of one attempt. An attempt
  records its outcome only while its claim holds (``attempts`` is the claim's token), so a worker
  whose lease ran out cannot undo another worker's delivery.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from psycopg import AsyncConnection
from psycopg.rows import class_row

from noisefleet_core.contract.levels import format_timestamp
from noisefleet_server.notify.errors import NotifyError

CHANNEL = "noisefleet_notifications"
PAYLOAD_SCHEMA = 1
_SET_BY_ENQUEUE = ("notification_id", "sent_at")


@dataclass(frozen=True)
class Claimed:
    """One notification leased to this worker for one attempt."""

    id: int
    notification_id: uuid.UUID
    notifier: str
    event: str
    site: str | None
    sensor: str | None
    body: str
    attempts: int
    """This attempt's number (1 = first); also the claim's token."""
    was: str
    """'queued', or 'delivering' when a previous worker's lease ran out (it died)."""


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("a naive datetime (times must be aware, UTC)")
        return format_timestamp(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def serialise(payload: Mapping[str, object], notification_id: uuid.UUID, sent_at: datetime) -> str:
    """The body sent for one notifier: sorted keys, compact, UTF-8 text (no NaN)."""
    for key in _SET_BY_ENQUEUE:
        if key in payload:
            raise NotifyError(f"payload: {key} is set by enqueue, do not pass it")
    data = {"schema": PAYLOAD_SCHEMA, **payload, "notification_id": notification_id}
    data["sent_at"] = sent_at
    try:
        return json.dumps(
            data,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_json_default,
        )
    except (TypeError, ValueError) as error:
        raise NotifyError(f"payload: not JSON ({error})") from None


def _optional(payload: Mapping[str, object], key: str, kind: type) -> object:
    value = payload.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise NotifyError(f"payload.{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


async def enqueue(
    conn: AsyncConnection,
    notifier_names: Iterable[str],
    payload: Mapping[str, object],
    *,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """Queue ``payload`` (the §6 notification without notification_id and sent_at) for each
    notifier; the ids, in the order of ``notifier_names`` (a repeated name counts once). Call
    inside the transaction that changes the alert: both commit together, and the worker wakes
    at the commit. Datetimes (aware) become the wire contract's UTC strings."""
    event = payload.get("event")
    if not isinstance(event, str) or not event:
        raise NotifyError("payload.event: required (firing, escalated or resolved)")
    alert_id = _optional(payload, "alert_id", int)
    site = _optional(payload, "site", str)
    sensor = _optional(payload, "sensor", str)
    sent_at = now or datetime.now(UTC)
    rows = []
    for name in dict.fromkeys(notifier_names):
        notification_id = uuid.uuid4()
        body = serialise(payload, notification_id, sent_at)
        rows.append((notification_id, name, alert_id, event, site, sensor, body))
    if not rows:
        return []
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO noisefleet_store.notifications"
            " (notification_id, notifier, alert_id, event, site, sensor, body)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    await conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return [row[0] for row in rows]


_CLAIM = """
WITH due AS (
    SELECT n.id, n.state AS was
    FROM noisefleet_store.notifications n
    WHERE n.state IN ('queued', 'delivering') AND n.next_attempt_at <= now()
      AND n.notifier = %(notifier)s
      AND NOT EXISTS (
          SELECT 1 FROM noisefleet_store.notifications e
          WHERE e.notifier = n.notifier AND e.alert_id = n.alert_id AND e.id < n.id
            AND e.state IN ('queued', 'delivering'))
    ORDER BY n.next_attempt_at, n.id
    LIMIT %(limit)s
    FOR UPDATE OF n SKIP LOCKED
)
UPDATE noisefleet_store.notifications n
SET state = 'delivering', attempts = n.attempts + 1, claimed_by = %(worker)s,
    lease_until = now() + make_interval(secs => %(lease_s)s),
    next_attempt_at = now() + make_interval(secs => %(lease_s)s)
FROM due
WHERE n.id = due.id
RETURNING n.id, n.notification_id, n.notifier, n.event, n.site, n.sensor, n.body, n.attempts,
          due.was
"""


async def claim(
    conn: AsyncConnection, notifier: str, limit: int, lease_s: float, worker: str
) -> list[Claimed]:
    """Lease up to ``limit`` due notifications of ``notifier`` for ``lease_s`` (committed at
    once: the deliveries happen outside any transaction)."""
    async with conn.transaction(), conn.cursor(row_factory=class_row(Claimed)) as cursor:
        await cursor.execute(
            _CLAIM,
            {"notifier": notifier, "limit": limit, "lease_s": lease_s, "worker": worker},
        )
        rows = await cursor.fetchall()
    return sorted(rows, key=lambda row: row.id)


async def mark_delivered(conn: AsyncConnection, row_id: int, note: str | None = None) -> None:
    """Delivered (``note``: what the receiver said besides yes, e.g. refused recipients)."""
    await conn.execute(
        "UPDATE noisefleet_store.notifications"
        " SET state = 'delivered', delivered_at = now(), lease_until = NULL,"
        "     last_error = coalesce(%s, last_error)"
        " WHERE id = %s AND state <> 'delivered'",
        (note, row_id),
    )


async def mark_retry(
    conn: AsyncConnection,
    claimed: Claimed,
    error: str,
    delay_s: float,
    give_up_after_s: float,
) -> Literal["queued", "failed", "superseded"]:
    """Due again after ``delay_s`` (at the latest when giving up); failed once
    ``give_up_after_s`` since it was queued have passed."""
    cursor = await conn.execute(
        """
        UPDATE noisefleet_store.notifications
        SET state = CASE WHEN now() >= created_at + make_interval(secs => %(give_up)s)
                         THEN 'failed' ELSE 'queued' END,
            last_error = CASE WHEN now() >= created_at + make_interval(secs => %(give_up)s)
                              THEN 'gave up after ' || attempts || ' attempt(s): ' || %(error)s
                              ELSE %(error)s END,
            next_attempt_at = least(now() + make_interval(secs => %(delay)s),
                                    created_at + make_interval(secs => %(give_up)s)),
            lease_until = NULL
        WHERE id = %(id)s AND state = 'delivering' AND attempts = %(attempts)s
        RETURNING state
        """,
        {
            "give_up": give_up_after_s,
            "error": error,
            "delay": delay_s,
            "id": claimed.id,
            "attempts": claimed.attempts,
        },
    )
    row = await cursor.fetchone()
    return "superseded" if row is None else row[0]


async def mark_failed(conn: AsyncConnection, claimed: Claimed, error: str) -> None:
    """Failed for good (the receiver refused it): not retried."""
    await conn.execute(
        "UPDATE noisefleet_store.notifications"
        " SET state = 'failed', lease_until = NULL, last_error = %s"
        " WHERE id = %s AND state = 'delivering' AND attempts = %s",
        (error, claimed.id, claimed.attempts),
    )


async def seconds_until_due(conn: AsyncConnection, notifiers: Sequence[str]) -> float | None:
    """How long until the next open notification of ``notifiers`` that is not due yet becomes
    due (a retry, a lease running out). Rows due now are not counted: the pass that just ran
    claimed what it could, and the rest waits for a free slot or an earlier row of its alert,
    whose completion wakes the worker."""
    cursor = await conn.execute(
        "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8"
        " FROM noisefleet_store.notifications"
        " WHERE state IN ('queued', 'delivering') AND notifier = ANY(%s)"
        "   AND next_attempt_at > now()",
        (list(notifiers),),
    )
    row = await cursor.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def queue_exists(conn: AsyncConnection) -> bool:
    """Whether migration 0005 (the queue) has been applied."""
    cursor = await conn.execute("SELECT to_regclass('noisefleet_store.notifications') IS NOT NULL")
    row = await cursor.fetchone()
    return bool(row and row[0])


async def open_without_notifier(
    conn: AsyncConnection, notifiers: Sequence[str]
) -> list[tuple[str, int]]:
    """(notifier, count) of open notifications whose notifier is not configured: they wait."""
    cursor = await conn.execute(
        "SELECT notifier, count(*)::integer FROM noisefleet_store.notifications"
        " WHERE state IN ('queued', 'delivering') AND NOT (notifier = ANY(%s))"
        " GROUP BY notifier ORDER BY notifier",
        (list(notifiers),),
    )
    return [(str(name), int(count)) for name, count in await cursor.fetchall()]
