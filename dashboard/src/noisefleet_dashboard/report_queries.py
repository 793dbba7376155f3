"""What the Complaint check and the Reports and export pages read, from the public views only.

Plain functions taking a psycopg connection, like ``queries``: parameters always, every query
limited to the caller's ``SiteScope`` in SQL. Exports read at most ``cap + 1`` rows so that
the caller can tell a complete table from one that would have been cut (``Table.complete``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from noisefleet_dashboard.access import SiteScope, scope_sql
from noisefleet_dashboard.errors import QueryError
from noisefleet_dashboard.resolution import Resolution


@dataclass(frozen=True)
class EventRow:
    event_id: str
    sensor: str
    label: str
    start: datetime
    duration_s: float
    laeq_db: float | None
    lafmax_db: float | None
    confidence_peak: float | None


@dataclass(frozen=True)
class AlertRow:
    alert_id: int
    rule_id: str
    sensor: str
    state: str
    severity: str
    started: datetime
    """When the condition began (pending since, else fired at)."""
    ended: datetime | None
    value: float | None
    limit_value: float | None
    message: str | None


@dataclass(frozen=True)
class SensorCalibration:
    sensor: str
    calibration_date: date | None
    calibration_offset_db: float | None
    last_seen: datetime | None


@dataclass(frozen=True)
class Table:
    """Rows of an export, as read (columns named as in the views)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    complete: bool
    """False when more than the cap matched (``rows`` then holds only the first cap rows)."""


def _params(scope: SiteScope, **values: Any) -> dict[str, Any]:
    return {**scope.params(), **values}


def _check_span(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise QueryError("times must be aware (with a time zone)")
    if end <= start:
        raise QueryError(f"the span is empty: {start.isoformat()} .. {end.isoformat()}")


def events_between(
    conn: psycopg.Connection, scope: SiteScope, site: str, start: datetime, end: datetime
) -> list[EventRow]:
    """The site's final events overlapping [start, end), every sensor, by start."""
    _check_span(start, end)
    cursor = conn.cursor(row_factory=class_row(EventRow))
    return cursor.execute(
        "SELECT event_id::text, sensor, label, start, duration_s, laeq_db, lafmax_db,"
        " confidence_peak FROM noisefleet.events WHERE site = %(site)s AND final"
        " AND start < %(end)s AND start + make_interval(secs => duration_s) > %(start)s"
        f" AND {scope_sql()} ORDER BY start, sensor",
        _params(scope, site=site, start=start, end=end),
    ).fetchall()


def alerts_between(
    conn: psycopg.Connection, scope: SiteScope, site: str, start: datetime, end: datetime
) -> list[AlertRow]:
    """The site's alerts (not withdrawn) active at some time in [start, end), by start."""
    _check_span(start, end)
    cursor = conn.cursor(row_factory=class_row(AlertRow))
    return cursor.execute(
        "SELECT alert_id, rule_id, sensor, state, severity,"
        " coalesce(pending_since, fired_at) AS started,"
        " coalesce(ended_at, resolved_at) AS ended, value, limit_value, message"
        " FROM noisefleet.alerts WHERE site = %(site)s AND NOT withdrawn"
        " AND coalesce(pending_since, fired_at) < %(end)s"
        " AND coalesce(ended_at, resolved_at, 'infinity') > %(start)s"
        f" AND {scope_sql()} ORDER BY started, alert_id",
        _params(scope, site=site, start=start, end=end),
    ).fetchall()


def calibrations(conn: psycopg.Connection, scope: SiteScope, site: str) -> list[SensorCalibration]:
    """The assigned sensors of a site with their last calibration."""
    cursor = conn.cursor(row_factory=class_row(SensorCalibration))
    return cursor.execute(
        "SELECT sensor, calibration_date, calibration_offset_db, last_seen FROM noisefleet.sensors"
        f" WHERE site = %(site)s AND NOT pending AND {scope_sql()} ORDER BY sensor",
        _params(scope, site=site),
    ).fetchall()


LEVEL_COLUMNS = (
    "site",
    "sensor",
    "start",
    "laeq_db",
    "lafmax_db",
    "laf10_db",
    "laf50_db",
    "laf90_db",
    "coverage",
)
EVENT_COLUMNS = (
    "event_id",
    "site",
    "sensor",
    "label",
    "start",
    "duration_s",
    "laeq_db",
    "lafmax_db",
    "lae_db",
    "confidence_peak",
)


def _table(
    conn: psycopg.Connection,
    query: sql.SQL | sql.Composed,
    params: dict[str, Any],
    columns: tuple[str, ...],
    cap: int,
) -> Table:
    rows = conn.execute(query, {**params, "limit": cap + 1}).fetchall()
    return Table(columns, [tuple(r) for r in rows[:cap]], complete=len(rows) <= cap)


def export_levels(
    conn: psycopg.Connection,
    scope: SiteScope,
    site: str,
    start: datetime,
    end: datetime,
    resolution: Resolution,
    cap: int,
) -> Table:
    """Every sensor's levels of a site in [start, end) at a resolution, at most ``cap`` rows."""
    _check_span(start, end)
    source: sql.Composable
    if resolution.view == "levels":
        source = sql.SQL("noisefleet.levels_between(%(start)s, %(end)s)")
    else:
        source = sql.SQL("noisefleet.{}").format(sql.Identifier(resolution.view))
    query = sql.SQL(
        "SELECT {columns} FROM {source} WHERE site = %(site)s AND start >= %(start)s"
        " AND start < %(end)s AND " + scope_sql() + " ORDER BY sensor, start LIMIT %(limit)s"
    ).format(columns=sql.SQL(", ").join(map(sql.Identifier, LEVEL_COLUMNS)), source=source)
    params = _params(scope, site=site, start=start, end=end)
    return _table(conn, query, params, LEVEL_COLUMNS, cap)


def export_events(
    conn: psycopg.Connection, scope: SiteScope, site: str, start: datetime, end: datetime, cap: int
) -> Table:
    """The site's final events starting in [start, end), at most ``cap`` rows."""
    _check_span(start, end)
    query = sql.SQL(
        "SELECT event_id::text, site, sensor, label, start, duration_s, laeq_db, lafmax_db,"
        " lae_db, confidence_peak FROM noisefleet.events WHERE site = %(site)s AND final"
        " AND start >= %(start)s AND start < %(end)s AND "
        + scope_sql()
        + " ORDER BY start, sensor LIMIT %(limit)s"
    )
    params = _params(scope, site=site, start=start, end=end)
    return _table(conn, query, params, EVENT_COLUMNS, cap)
