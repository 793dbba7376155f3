"""What the dashboard shows, read from the public views (schema ``noisefleet``) only.

Plain functions taking a psycopg connection; parameters always; every query is limited to
the caller's ``SiteScope`` in SQL (``access.scope_sql``), never filtered afterwards in Python.
Times are aware datetimes; ``now`` is a parameter so pages, caches and tests agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from noisefleet_dashboard.access import SiteScope, scope_sql
from noisefleet_dashboard.causes import HourLevel, ShareRow
from noisefleet_dashboard.errors import QueryError
from noisefleet_dashboard.resolution import Resolution


@dataclass(frozen=True)
class SiteRow:
    site: str
    name: str | None
    kind: str
    address: str | None
    lat: float | None
    lon: float | None
    timezone: str
    limits: dict[str, float]


@dataclass(frozen=True)
class FleetRow:
    site: str
    sensor: str
    status: str | None
    last_seen: datetime | None
    coverage_today: float | None
    """Measured share of the site's local day so far (0..1)."""
    outbox_depth: int | None
    calibration_date: date | None
    model_name: str | None
    model_sha256: str | None
    open_alerts: int


@dataclass(frozen=True)
class PendingSensor:
    site: str
    sensor: str
    first_seen: datetime
    last_seen: datetime | None
    site_registered: bool


@dataclass(frozen=True)
class LevelPoint:
    start: datetime
    laeq_db: float | None
    lafmax_db: float | None
    laf10_db: float | None
    laf90_db: float | None
    coverage: float


@dataclass(frozen=True)
class LdenDay:
    day: date
    lday_db: float | None
    levening_db: float | None
    lnight_db: float | None
    lden_db: float | None
    coverage: float


def _params(scope: SiteScope, **values: Any) -> dict[str, Any]:
    return {**scope.params(), **values}


def sites(conn: psycopg.Connection, scope: SiteScope) -> list[SiteRow]:
    """The registered sites the scope allows, by id."""
    cursor = conn.cursor(row_factory=class_row(SiteRow))
    return cursor.execute(
        "SELECT site, name, kind, address, lat, lon, timezone, limits FROM noisefleet.sites"
        f" WHERE {scope_sql()} ORDER BY site",
        _params(scope),
    ).fetchall()


def fleet(conn: psycopg.Connection, scope: SiteScope, now: datetime) -> list[FleetRow]:
    """One row per assigned sensor: health, today's coverage (site local day), open alerts."""
    cursor = conn.cursor(row_factory=class_row(FleetRow))
    return cursor.execute(
        "WITH s AS ("
        " SELECT se.*, ((date_trunc('day', %(now)s AT TIME ZONE coalesce(si.timezone, 'UTC')))"
        "   AT TIME ZONE coalesce(si.timezone, 'UTC')) AS midnight"
        " FROM noisefleet.sensors se LEFT JOIN noisefleet.sites si USING (site)"
        f" WHERE NOT se.pending AND {scope_sql('se.site')})"
        " SELECT s.site, s.sensor, s.status, s.last_seen,"
        "  least(1.0, (SELECT sum(h.coverage * 3600) FROM noisefleet.levels_1h h"
        "   WHERE h.site = s.site AND h.sensor = s.sensor"
        "   AND h.start >= s.midnight AND h.start < %(now)s)"
        "   / greatest(extract(epoch FROM %(now)s - s.midnight), 1))::double precision"
        "   AS coverage_today,"
        "  s.outbox_depth, s.calibration_date, s.model_name, s.model_sha256,"
        "  (SELECT count(*) FROM noisefleet.alerts a WHERE a.site = s.site"
        "   AND a.sensor = s.sensor AND a.state = 'firing' AND NOT a.withdrawn)::integer"
        "   AS open_alerts"
        " FROM s ORDER BY s.site, s.sensor",
        _params(scope, now=now),
    ).fetchall()


def pending_sensors(conn: psycopg.Connection, scope: SiteScope) -> list[PendingSensor]:
    """Sensors heard from but not yet assigned (``noisefleet-server sensors assign``)."""
    cursor = conn.cursor(row_factory=class_row(PendingSensor))
    return cursor.execute(
        "SELECT se.site, se.sensor, se.first_seen, se.last_seen,"
        " EXISTS (SELECT 1 FROM noisefleet.sites si WHERE si.site = se.site) AS site_registered"
        f" FROM noisefleet.sensors se WHERE se.pending AND {scope_sql('se.site')}"
        " ORDER BY se.site, se.sensor",
        _params(scope),
    ).fetchall()


def site_sensors(conn: psycopg.Connection, scope: SiteScope, site: str) -> list[str]:
    """The assigned sensors of a site (none when the scope does not allow the site)."""
    rows = conn.execute(
        "SELECT sensor FROM noisefleet.sensors"
        f" WHERE site = %(site)s AND NOT pending AND {scope_sql()} ORDER BY sensor",
        _params(scope, site=site),
    ).fetchall()
    return [r[0] for r in rows]


def _check_span(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise QueryError("times must be aware (with a time zone)")
    if end <= start:
        raise QueryError(f"the span is empty: {start.isoformat()} .. {end.isoformat()}")


def _whole_hours(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[first, last) of the whole UTC hours inside [start, end); (end, end) when there are none."""
    hour = timedelta(hours=1)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    first = epoch + -((epoch - start) // hour) * hour
    last = epoch + ((end - epoch) // hour) * hour
    return (first, last) if first < last else (end, end)


def levels(
    conn: psycopg.Connection,
    scope: SiteScope,
    site: str,
    sensor: str,
    start: datetime,
    end: datetime,
    resolution: Resolution,
) -> list[LevelPoint]:
    """A sensor's levels in [start, end) at the given resolution (``resolution`` module)."""
    _check_span(start, end)
    source: sql.Composable
    if resolution.view == "levels":
        source = sql.SQL("noisefleet.levels_between(%(start)s, %(end)s)")
    else:
        source = sql.SQL("noisefleet.{}").format(sql.Identifier(resolution.view))
    query = sql.SQL(
        "SELECT start, laeq_db, lafmax_db, laf10_db, laf90_db, coverage FROM {source}"
        " WHERE site = %(site)s AND sensor = %(sensor)s AND start >= %(start)s"
        " AND start < %(end)s AND " + scope_sql() + " ORDER BY start"
    ).format(source=source)
    cursor = conn.cursor(row_factory=class_row(LevelPoint))
    return cursor.execute(
        query, _params(scope, site=site, sensor=sensor, start=start, end=end)
    ).fetchall()


def span_laeq(
    conn: psycopg.Connection,
    scope: SiteScope,
    site: str,
    sensor: str,
    start: datetime,
    end: datetime,
) -> tuple[float | None, float]:
    """The energy-mean LAeq of the minutes in [start, end) and the measured share of the span.

    Each minute's LAeq weighs by its measured seconds (coverage × 60 s): Σ10^(L/10)·t / Σt.
    The whole UTC hours inside the span are read from ``levels_1h`` (the same sums, an hour
    row weighing by coverage × 3600 s), only the minutes before the first and after the last
    whole hour from ``levels_1m``: a month is 720 hour rows, not 43 200 minute rows.
    """
    _check_span(start, end)
    first_hour, last_hour = _whole_hours(start, end)
    row = conn.execute(
        "WITH parts AS ("
        " SELECT laeq_db, coverage * 60 AS measured_s FROM noisefleet.levels_1m"
        " WHERE site = %(site)s AND sensor = %(sensor)s AND start >= %(start)s AND start < %(h0)s"
        f" AND {scope_sql()}"
        " UNION ALL"
        " SELECT laeq_db, coverage * 60 FROM noisefleet.levels_1m"
        " WHERE site = %(site)s AND sensor = %(sensor)s AND start >= %(h1)s AND start < %(end)s"
        f" AND {scope_sql()}"
        " UNION ALL"
        " SELECT laeq_db, coverage * 3600 FROM noisefleet.levels_1h"
        " WHERE site = %(site)s AND sensor = %(sensor)s AND start >= %(h0)s AND start < %(h1)s"
        f" AND {scope_sql()})"
        " SELECT (10 * log(sum(power(10, laeq_db / 10) * measured_s)"
        "  / nullif(sum(measured_s), 0)))::double precision,"
        " coalesce(sum(measured_s), 0)::double precision"
        " FROM parts WHERE laeq_db IS NOT NULL",
        _params(scope, site=site, sensor=sensor, start=start, end=end, h0=first_hour, h1=last_hour),
    ).fetchone()
    assert row is not None
    laeq, measured_s = row
    return laeq, measured_s / (end - start).total_seconds()


def lden_days(
    conn: psycopg.Connection,
    scope: SiteScope,
    site: str,
    sensor: str,
    first_day: date,
    last_day: date,
) -> list[LdenDay]:
    """Lday, Levening, Lnight and Lden per local day (07:00–07:00), first_day..last_day."""
    cursor = conn.cursor(row_factory=class_row(LdenDay))
    return cursor.execute(
        "SELECT day, lday_db, levening_db, lnight_db, lden_db, coverage FROM noisefleet.lden_daily"
        " WHERE site = %(site)s AND sensor = %(sensor)s AND day BETWEEN %(first)s AND %(last)s"
        f" AND {scope_sql()} ORDER BY day",
        _params(scope, site=site, sensor=sensor, first=first_day, last=last_day),
    ).fetchall()


def energy_shares(
    conn: psycopg.Connection,
    scope: SiteScope,
    site: str,
    sensor: str,
    start: datetime,
    end: datetime,
) -> list[ShareRow]:
    """The share of each UTC hour's A-weighted energy per label, hours starting in [start, end)."""
    _check_span(start, end)
    cursor = conn.cursor(row_factory=class_row(ShareRow))
    return cursor.execute(
        "SELECT start, label, share FROM noisefleet.energy_shares_1h"
        " WHERE site = %(site)s AND sensor = %(sensor)s AND start >= %(start)s"
        f" AND start < %(end)s AND {scope_sql()} ORDER BY start, label",
        _params(scope, site=site, sensor=sensor, start=start, end=end),
    ).fetchall()


def hourly_levels(
    conn: psycopg.Connection,
    scope: SiteScope,
    site: str,
    sensor: str,
    start: datetime,
    end: datetime,
) -> list[HourLevel]:
    """Each UTC hour's LAeq and coverage (``levels_1h``), hours starting in [start, end)."""
    _check_span(start, end)
    cursor = conn.cursor(row_factory=class_row(HourLevel))
    return cursor.execute(
        "SELECT start, laeq_db, coverage FROM noisefleet.levels_1h"
        " WHERE site = %(site)s AND sensor = %(sensor)s AND start >= %(start)s"
        f" AND start < %(end)s AND {scope_sql()} ORDER BY start",
        _params(scope, site=site, sensor=sensor, start=start, end=end),
    ).fetchall()
