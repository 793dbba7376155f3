"""The Events page's data, read from the public views ``noisefleet.events`` and
``noisefleet.levels_between`` only, limited to the caller's ``SiteScope`` in SQL.

One ``EventFilter`` (site, optional sensor, labels, minimum peak confidence, [start, end))
drives the table, the timeline and the hour-of-day counts, so they always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from noisefleet_dashboard.access import SiteScope, scope_sql
from noisefleet_dashboard.errors import QueryError


@dataclass(frozen=True)
class EventFilter:
    site: str
    start: datetime
    end: datetime
    sensor: str | None = None
    """None: every sensor of the site."""
    labels: tuple[str, ...] = ()
    """Empty: every label."""
    min_confidence: float = 0.0
    """Keep events whose peak confidence is at least this (0: keep those without one too)."""


@dataclass(frozen=True)
class EventRow:
    event_id: str
    site: str
    sensor: str
    label: str
    start: datetime
    duration_s: float
    laeq_db: float
    lafmax_db: float
    lae_db: float
    confidence_peak: float | None
    final: bool


@dataclass(frozen=True)
class LabelBucket:
    start: datetime
    label: str
    count: int


@dataclass(frozen=True)
class HourCount:
    hour: int
    """Hour of day, 0..23, in the site's time zone."""
    label: str
    count: int


_COLUMNS = (
    "event_id, site, sensor, label, start, duration_s, laeq_db, lafmax_db, lae_db,"
    " confidence_peak, final"
)


def _where(f: EventFilter, scope: SiteScope) -> tuple[str, dict[str, Any]]:
    if f.start.tzinfo is None or f.end.tzinfo is None:
        raise QueryError("times must be aware (with a time zone)")
    if f.end <= f.start:
        raise QueryError(f"the span is empty: {f.start.isoformat()} .. {f.end.isoformat()}")
    where = (
        "site = %(site)s AND start >= %(start)s AND start < %(end)s"
        " AND (%(sensor)s::text IS NULL OR sensor = %(sensor)s)"
        " AND (cardinality(%(labels)s::text[]) = 0 OR label = ANY(%(labels)s))"
        " AND (%(min_conf)s <= 0 OR confidence_peak >= %(min_conf)s)"
        f" AND {scope_sql()}"
    )
    params = {
        **scope.params(),
        "site": f.site,
        "start": f.start,
        "end": f.end,
        "sensor": f.sensor,
        "labels": list(f.labels),
        "min_conf": f.min_confidence,
    }
    return where, params


def labels(conn: psycopg.Connection, scope: SiteScope, site: str) -> list[str]:
    """Every label ever reported at the site (for the filter's choices)."""
    rows = conn.execute(
        f"SELECT DISTINCT label FROM noisefleet.events WHERE site = %(site)s AND {scope_sql()}"
        " ORDER BY label",
        {**scope.params(), "site": site},
    ).fetchall()
    return [r[0] for r in rows]


def count(conn: psycopg.Connection, scope: SiteScope, f: EventFilter) -> int:
    where, params = _where(f, scope)
    row = conn.execute(f"SELECT count(*) FROM noisefleet.events WHERE {where}", params).fetchone()
    assert row is not None
    return int(row[0])


def events(
    conn: psycopg.Connection, scope: SiteScope, f: EventFilter, limit: int
) -> list[EventRow]:
    """The newest ``limit`` matching events, newest first."""
    where, params = _where(f, scope)
    cursor = conn.cursor(row_factory=class_row(EventRow))
    return cursor.execute(
        f"SELECT {_COLUMNS} FROM noisefleet.events WHERE {where}"
        " ORDER BY start DESC, event_id LIMIT %(limit)s",
        {**params, "limit": limit},
    ).fetchall()


def timeline(
    conn: psycopg.Connection, scope: SiteScope, f: EventFilter, bucket_s: int
) -> list[LabelBucket]:
    """Events per label and bucket of ``bucket_s`` seconds (aligned to ``f.start``)."""
    where, params = _where(f, scope)
    cursor = conn.cursor(row_factory=class_row(LabelBucket))
    return cursor.execute(
        "SELECT date_bin(make_interval(secs => %(bucket)s), start, %(start)s) AS start, label,"
        f" count(*)::integer AS count FROM noisefleet.events WHERE {where}"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        {**params, "bucket": bucket_s},
    ).fetchall()


def hours_of_day(
    conn: psycopg.Connection, scope: SiteScope, f: EventFilter, timezone: str
) -> list[HourCount]:
    """Events per label and hour of day in ``timezone`` (the site's)."""
    where, params = _where(f, scope)
    cursor = conn.cursor(row_factory=class_row(HourCount))
    return cursor.execute(
        "SELECT extract(hour FROM start AT TIME ZONE %(tz)s)::integer AS hour, label,"
        f" count(*)::integer AS count FROM noisefleet.events WHERE {where}"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        {**params, "tz": timezone},
    ).fetchall()


def event(conn: psycopg.Connection, scope: SiteScope, event_id: str) -> EventRow | None:
    """One event by id (None when unknown or at a site the scope does not allow)."""
    cursor = conn.cursor(row_factory=class_row(EventRow))
    return cursor.execute(
        f"SELECT {_COLUMNS} FROM noisefleet.events WHERE event_id = %(id)s AND {scope_sql()}",
        {**scope.params(), "id": event_id},
    ).fetchone()
