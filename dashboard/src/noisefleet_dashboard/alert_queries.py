"""The Alerts page's data: alerts read from ``noisefleet.alerts`` (limited to the caller's
``SiteScope`` in SQL), rules from ``noisefleet.alert_rules``, and three actions that go
through the server's own functions on a short-lived async connection:

1. ``acknowledge``: refused for viewers and for alerts at sites the user may not write, then
   ``noisefleet_server.alerts.store_sql.acknowledge``;
2. ``save_rules``: admins and operators only, ``store_sql.put_rules`` (the server's engine
   picks the new set up on its next reload and validates it again);
3. ``preview``: ``noisefleet_server.alerts.replay.replay`` of draft rules over stored data,
   at the sites the user may see; writes and notifies nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg.rows import class_row

from noisefleet_core.alerts.rules import Rule
from noisefleet_dashboard.access import SiteScope, User, may_write, scope_sql
from noisefleet_dashboard.errors import DashboardError
from noisefleet_server.alerts import replay as server_replay
from noisefleet_server.alerts import store_sql

ALERT_STATES = ("pending", "firing", "resolved")

T = TypeVar("T")


class NotAllowedError(DashboardError):
    """The signed-in user may not do this (a viewer, or another operator's site)."""


@dataclass(frozen=True)
class AlertFilter:
    states: tuple[str, ...] = ("pending", "firing")
    site: str | None = None
    rule_id: str | None = None
    late: bool | None = None
    """None: late or not."""
    since: datetime | None = None
    """Keep alerts open at or after this time (pending since, or resolved after it)."""


@dataclass(frozen=True)
class AlertRow:
    alert_id: int
    rule_id: str
    site: str
    sensor: str
    state: str
    severity: str
    tier: str | None
    limit_value: float | None
    value: float | None
    peak: float | None
    pending_since: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    late: bool
    withdrawn: bool
    suppressed: int
    message: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_comment: str | None


@dataclass(frozen=True)
class PreviewAlert:
    """An alert the draft rules would have raised (times aware UTC)."""

    rule_id: str
    site: str
    sensor: str
    tier: str | None
    pending_since: datetime
    fired_at: datetime
    resolved_at: datetime | None
    peak: float | None


def alerts(
    conn: psycopg.Connection, scope: SiteScope, f: AlertFilter, limit: int = 500
) -> list[AlertRow]:
    """Matching alerts, newest first."""
    cursor = conn.cursor(row_factory=class_row(AlertRow))
    return cursor.execute(
        "SELECT alert_id, rule_id, site, sensor, state, severity, tier, limit_value, value, peak,"
        " pending_since, fired_at, resolved_at, late, withdrawn, suppressed, message,"
        " acknowledged_at, acknowledged_by, ack_comment FROM noisefleet.alerts"
        " WHERE state = ANY(%(states)s) AND (%(site)s::text IS NULL OR site = %(site)s)"
        " AND (%(rule)s::text IS NULL OR rule_id = %(rule)s)"
        " AND (%(late)s::boolean IS NULL OR late = %(late)s)"
        " AND (%(since)s::timestamptz IS NULL OR coalesce(resolved_at, 'infinity') >= %(since)s)"
        f" AND {scope_sql()} ORDER BY pending_since DESC, alert_id DESC LIMIT %(limit)s",
        {
            **scope.params(),
            "states": list(f.states),
            "site": f.site,
            "rule": f.rule_id,
            "late": f.late,
            "since": f.since,
            "limit": limit,
        },
    ).fetchall()


def alert_rule_ids(conn: psycopg.Connection, scope: SiteScope) -> list[str]:
    """The rules that raised alerts at the scope's sites (for the filter's choices)."""
    rows = conn.execute(
        f"SELECT DISTINCT rule_id FROM noisefleet.alerts WHERE {scope_sql()} ORDER BY rule_id",
        scope.params(),
    ).fetchall()
    return [r[0] for r in rows]


def db_rules(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """The rules kept in the database, by id (bodies in the documented rule format)."""
    rows = conn.execute(
        "SELECT rule_id, body FROM noisefleet.alert_rules ORDER BY rule_id"
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def run_async(url: str, work: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
    async def main() -> T:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        async with conn:
            return await work(conn)

    return asyncio.run(main())


def acknowledge(
    conn: psycopg.Connection, url: str, user: User, alert_id: int, comment: str
) -> None:
    """Acknowledge an alert as ``user``; refused (``NotAllowedError``) for viewers and for
    alerts at sites the user may not act on (an unknown alert reads the same)."""
    if user.role == "viewer":
        raise NotAllowedError("Viewers cannot acknowledge alerts.")
    row = conn.execute(
        "SELECT site FROM noisefleet.alerts WHERE alert_id = %s", (alert_id,)
    ).fetchone()
    if row is None or not may_write(user, row[0]):
        raise NotAllowedError(f"Alert #{alert_id} is not at one of your sites.")
    text = comment.strip() or None
    run_async(url, lambda a: store_sql.acknowledge(a, alert_id, user.username, text))


def save_rules(url: str, user: User, bodies: Sequence[dict[str, Any]]) -> None:
    """Store rule bodies (already validated with the rules in force) as ``user``."""
    if user.role not in ("admin", "operator"):
        raise NotAllowedError("Only operators and admins may change alert rules.")
    run_async(url, lambda a: store_sql.put_rules(a, list(bodies), user.username))


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def preview(
    url: str, scope: SiteScope, rules: Sequence[Rule], start: datetime, end: datetime
) -> list[PreviewAlert]:
    """What ``rules`` would have fired in [start, end] at the sites the scope allows."""

    async def work(conn: psycopg.AsyncConnection) -> list[server_replay.ReplayedAlert]:
        t_from, t_to = start.timestamp(), end.timestamp()
        if scope.all_sites:
            return await server_replay.replay(conn, rules, t_from, t_to)
        found: list[server_replay.ReplayedAlert] = []
        for site in scope.sites:
            found += await server_replay.replay(conn, rules, t_from, t_to, site=site)
        return found

    return [
        PreviewAlert(
            rule_id=a.rule.id,
            site=a.sensor.site,
            sensor=a.sensor.sensor,
            tier=a.tier_name,
            pending_since=_utc(a.episode.pending_since),
            fired_at=_utc(a.episode.fired_at),
            resolved_at=None if a.episode.resolved_at is None else _utc(a.episode.resolved_at),
            peak=a.episode.peak,
        )
        for a in run_async(url, work)
        if a.episode.fired_at is not None
    ]
