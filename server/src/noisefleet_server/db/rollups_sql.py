"""Roll-up maintenance: recompute the hours marked dirty by ingest, then their days and Lden.

One pass (``run_rollup_pass``), in one transaction:
1. take up to N dirty (sensor, hour) marks, skipping those another worker holds, and delete them;
2. recompute each hour from its minute rows (energy sums, maxima, merged histograms, energy per
   label, event count) and upsert ``rollup_1h`` and ``energy_shares_1h``;
3. recompute each local day touched (site time zone; UTC for sensors of unregistered sites) from
   its hours when the zone's offset is whole hours that day, else from its minutes;
4. recompute each Lden day touched (07:00 to 07:00 local by default) from its minutes with the
   core's ``den_levels`` (23 and 25 h days included).
Recomputing, not incrementing, makes late data and repeated passes give the same answer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection, sql

from noisefleet_core.acoustics.combine import DenPeriods, den_day_bounds, den_day_of
from noisefleet_server.ingest.minutes import decode_histogram
from noisefleet_server.rollup_math import Aggregate, Part, aggregate, lden_day

HOUR = timedelta(hours=1)


@dataclass
class RollupPassResult:
    hours: int = 0
    days: int = 0
    lden_days: int = 0


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _whole_hour_offsets(start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    moment = start
    while moment <= end:
        offset = moment.astimezone(zone).utcoffset()
        if offset is None or offset.total_seconds() % 3600:
            return False
        moment += timedelta(hours=6)
    return True


async def _minute_parts(
    conn: AsyncConnection, sensor_id: int, start: datetime, end: datetime
) -> list[Part]:
    cursor = await conn.execute(
        "SELECT minute, energy, measured_s, lafmax_cdb / 100.0, lcpeak_cdb / 100.0, hist_width,"
        " hist_first, hist, share_labels, share_energy FROM noisefleet_store.level_minutes"
        " WHERE sensor_id = %s AND minute >= %s AND minute < %s ORDER BY minute",
        (sensor_id, start, end),
    )
    return [
        Part(
            r[0],
            r[1],
            r[2],
            None if r[3] is None else float(r[3]),
            None if r[4] is None else float(r[4]),
            r[5],
            r[6],
            None if r[7] is None else decode_histogram(r[7]),
            dict(zip(r[8], r[9], strict=True)),
        )
        for r in await cursor.fetchall()
    ]


async def _hour_parts(
    conn: AsyncConnection, sensor_id: int, start: datetime, end: datetime
) -> list[Part]:
    cursor = await conn.execute(
        "SELECT start, energy, measured_s, lafmax_db, lcpeak_db, hist_width, hist_first,"
        " hist_counts FROM noisefleet_store.rollup_1h"
        " WHERE sensor_id = %s AND start >= %s AND start < %s ORDER BY start",
        (sensor_id, start, end),
    )
    return [Part(*r) for r in await cursor.fetchall()]


async def _event_count(
    conn: AsyncConnection, sensor_id: int, start: datetime, end: datetime
) -> int:
    cursor = await conn.execute(
        "SELECT count(*) FROM noisefleet_store.events"
        " WHERE sensor_id = %s AND start >= %s AND start < %s",
        (sensor_id, start, end),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _upsert(
    conn: AsyncConnection,
    table: str,
    sensor_id: int,
    start: datetime,
    agg: Aggregate | None,
    events: int,
) -> None:
    name = sql.Identifier("noisefleet_store", table)
    if agg is None or (agg.measured_s <= 0 and events == 0):
        await conn.execute(
            sql.SQL("DELETE FROM {} WHERE sensor_id = %s AND start = %s").format(name),
            (sensor_id, start),
        )
        return
    await conn.execute(
        sql.SQL(
            "INSERT INTO {} (sensor_id, start, energy, measured_s, laeq_db,"
            " lafmax_db, lcpeak_db, laf10_db, laf50_db, laf90_db, coverage, event_count,"
            " hist_width, hist_first, hist_counts)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (sensor_id, start) DO UPDATE SET energy = EXCLUDED.energy,"
            " measured_s = EXCLUDED.measured_s, laeq_db = EXCLUDED.laeq_db,"
            " lafmax_db = EXCLUDED.lafmax_db, lcpeak_db = EXCLUDED.lcpeak_db,"
            " laf10_db = EXCLUDED.laf10_db, laf50_db = EXCLUDED.laf50_db,"
            " laf90_db = EXCLUDED.laf90_db, coverage = EXCLUDED.coverage,"
            " event_count = EXCLUDED.event_count, hist_width = EXCLUDED.hist_width,"
            " hist_first = EXCLUDED.hist_first, hist_counts = EXCLUDED.hist_counts"
        ).format(name),
        (
            sensor_id,
            start,
            agg.energy,
            agg.measured_s,
            agg.laeq_db,
            agg.lafmax_db,
            agg.lcpeak_db,
            agg.laf10_db,
            agg.laf50_db,
            agg.laf90_db,
            agg.coverage,
            events,
            agg.hist_width,
            agg.hist_first,
            agg.hist_counts,
        ),
    )


async def recompute_hour(conn: AsyncConnection, sensor_id: int, hour: datetime) -> None:
    parts = await _minute_parts(conn, sensor_id, hour, hour + HOUR)
    agg = aggregate(parts, 3600.0) if parts else None
    events = await _event_count(conn, sensor_id, hour, hour + HOUR)
    await _upsert(conn, "rollup_1h", sensor_id, hour, agg, events)
    await conn.execute(
        "DELETE FROM noisefleet_store.energy_shares_1h WHERE sensor_id = %s AND start = %s",
        (sensor_id, hour),
    )
    if agg is not None and agg.shares:
        labels = list(agg.shares)
        await conn.execute(
            "INSERT INTO noisefleet_store.energy_shares_1h (sensor_id, start, label, share)"
            " SELECT %s, %s, * FROM unnest(%s::text[], %s::float8[])",
            (sensor_id, hour, labels, [agg.shares[k] for k in labels]),
        )


async def recompute_day(conn: AsyncConnection, sensor_id: int, day: date, zone: ZoneInfo) -> None:
    start = _local_midnight(day, zone)
    end = _local_midnight(day + timedelta(days=1), zone)
    if _whole_hour_offsets(start, end, zone):
        parts = await _hour_parts(conn, sensor_id, start, end)
    else:
        parts = await _minute_parts(conn, sensor_id, start, end)
    length = (end - start).total_seconds()
    agg = aggregate(parts, length) if parts else None
    events = await _event_count(conn, sensor_id, start, end)
    await _upsert(conn, "rollup_1d", sensor_id, start, agg, events)


async def recompute_lden(
    conn: AsyncConnection, sensor_id: int, day: date, periods: DenPeriods
) -> None:
    start, end = den_day_bounds(day, periods)
    cursor = await conn.execute(
        "SELECT minute, energy, measured_s FROM noisefleet_store.level_minutes"
        " WHERE sensor_id = %s AND minute >= %s AND minute < %s",
        (sensor_id, start, end),
    )
    den = lden_day(await cursor.fetchall(), day, periods.timezone)
    if den is None:
        await conn.execute(
            "DELETE FROM noisefleet_store.lden_daily WHERE sensor_id = %s AND day = %s",
            (sensor_id, day),
        )
        return
    covered = den.lday.covered_s + den.levening.covered_s + den.lnight.covered_s
    coverage = covered / (end - start).total_seconds()

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    await conn.execute(
        "INSERT INTO noisefleet_store.lden_daily (sensor_id, day, lday_db, levening_db,"
        " lnight_db, lden_db, coverage) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (sensor_id, day) DO UPDATE SET lday_db = EXCLUDED.lday_db,"
        " levening_db = EXCLUDED.levening_db, lnight_db = EXCLUDED.lnight_db,"
        " lden_db = EXCLUDED.lden_db, coverage = EXCLUDED.coverage",
        (
            sensor_id,
            day,
            rounded(den.lday.leq_db),
            rounded(den.levening.leq_db),
            rounded(den.lnight.leq_db),
            rounded(den.lden_db),
            min(1.0, coverage),
        ),
    )


async def run_rollup_pass(conn: AsyncConnection, max_hours: int) -> RollupPassResult:
    """One maintenance pass (see the module docstring); the caller's connection, autocommit."""
    result = RollupPassResult()
    async with conn.transaction():
        cursor = await conn.execute(
            "DELETE FROM noisefleet_store.dirty_hours d USING ("
            " SELECT sensor_id, hour FROM noisefleet_store.dirty_hours ORDER BY hour"
            " LIMIT %s FOR UPDATE SKIP LOCKED) t"
            " WHERE d.sensor_id = t.sensor_id AND d.hour = t.hour"
            " RETURNING d.sensor_id, d.hour, (SELECT coalesce(si.timezone, 'UTC')"
            " FROM noisefleet_store.sensors se LEFT JOIN noisefleet_store.sites si"
            " ON si.site = se.site WHERE se.sensor_id = d.sensor_id)",
            (max_hours,),
        )
        marks = await cursor.fetchall()
        if not marks:
            return result
        days: dict[tuple[int, str], set[date]] = defaultdict(set)
        lden: dict[tuple[int, str], set[date]] = defaultdict(set)
        for sensor_id, hour, timezone in sorted(marks):
            await recompute_hour(conn, sensor_id, hour)
            result.hours += 1
            zone = ZoneInfo(timezone)
            periods = DenPeriods(timezone=timezone)
            for moment in (hour, hour + HOUR - timedelta(microseconds=1)):
                days[(sensor_id, timezone)].add(moment.astimezone(zone).date())
                lden[(sensor_id, timezone)].add(den_day_of(moment, periods))
        for (sensor_id, timezone), local_days in sorted(days.items()):
            for day in sorted(local_days):
                await recompute_day(conn, sensor_id, day, ZoneInfo(timezone))
                result.days += 1
        for (sensor_id, timezone), den_days in sorted(lden.items()):
            periods = DenPeriods(timezone=timezone)
            for day in sorted(den_days):
                await recompute_lden(conn, sensor_id, day, periods)
                result.lden_days += 1
    return result
