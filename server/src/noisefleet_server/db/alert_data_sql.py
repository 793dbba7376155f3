"""What the alert evaluator reads: one sensor's stored data as the core's input series.

Plain async functions taking a connection. Times become float epoch seconds, levels dB floats
(NaN for a null), exactly what ``noisefleet_core.alerts.series`` expects:
- minutes (``level_minutes``: energy, measured seconds, the minute's maxima and percentiles;
  histograms only when a rule needs LAF90 over more than a minute);
- 1-s records (decoded from the minute rows' level planes) only for rules with windows < 60 s;
- events overlapping the span; heartbeats and status changes for the health rules (with the
  last status before the span, so "offline since before" is known).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt
from psycopg import AsyncConnection

from noisefleet_core.alerts.series import (
    EventSeries,
    HealthSeries,
    MinuteSeries,
    RecordSeries,
    SensorData,
)
from noisefleet_server.ingest.minutes import decode_histogram, decode_levels

_NAN = float("nan")
_BIAS = 32768
# Planes of the stored level matrix (ingest/minutes.py): LAeq, LAFmax, LAFmin, LAF10, LAF50,
# LAF90, LCeq, LCpeak.
_LAEQ, _LAFMAX, _LAF90, _LCPEAK = 0, 1, 5, 7


@dataclass(frozen=True)
class Needs:
    """Which series the rules of one sensor need, each from when (epoch seconds; None: not
    needed), all up to ``t_to``. Each series is read only as far back as the rules that use it
    look (1-s records are costly to decode: a 1-s rule needs seconds of them, not the hour a
    clock rule of the same sensor needs in minutes)."""

    t_to: float
    minutes_from: float | None = None
    histograms: bool = False
    records_from: float | None = None
    events_from: float | None = None
    health_from: float | None = None


def _ts(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _cdb(values: list[int | None]) -> npt.NDArray[np.float64]:
    return np.array([_NAN if v is None else v / 100.0 for v in values], dtype=np.float64)


async def load_minutes(
    conn: AsyncConnection, sensor_id: int, t_from: float, t_to: float, histograms: bool
) -> MinuteSeries:
    hist_columns = ", hist_width, hist_first, hist" if histograms else ""
    cursor = await conn.execute(
        "SELECT extract(epoch FROM minute)::float8, energy, measured_s, lafmax_cdb, lcpeak_cdb,"
        f" laf10_cdb, laf90_cdb, clipped_samples{hist_columns}"
        " FROM noisefleet_store.level_minutes"
        " WHERE sensor_id = %s AND minute >= %s AND minute < %s ORDER BY minute",
        (sensor_id, _ts(t_from - 60.0), _ts(t_to)),
    )
    rows = await cursor.fetchall()
    if not rows:
        return MinuteSeries.empty()
    columns = list(zip(*rows, strict=True))
    hist_width = None
    hist_first = None
    hist_counts = None
    if histograms:
        widths = [w for w in columns[8] if w is not None]
        hist_width = float(widths[0]) if widths else None
        hist_first = np.array([f if f is not None else 0 for f in columns[9]], dtype=np.int64)
        hist_counts = tuple(
            decode_histogram(h) if h is not None else np.zeros(0, dtype=np.int64)
            for h in columns[10]
        )
    return MinuteSeries(
        start=np.array(columns[0], dtype=np.float64),
        energy=np.array(columns[1], dtype=np.float64),
        measured_s=np.array(columns[2], dtype=np.float64),
        lafmax_db=_cdb(list(columns[3])),
        lcpeak_db=_cdb(list(columns[4])),
        laf10_db=_cdb(list(columns[5])),
        laf90_db=_cdb(list(columns[6])),
        clipped_samples=np.array(columns[7], dtype=np.int64),
        hist_width_db=hist_width,
        hist_first=hist_first,
        hist_counts=hist_counts,
    )


async def load_records(
    conn: AsyncConnection, sensor_id: int, t_from: float, t_to: float
) -> RecordSeries:
    cursor = await conn.execute(
        "SELECT extract(epoch FROM minute)::float8, record_count, offsets_ms, duration_ms,"
        " durations_ms, levels, coverage FROM noisefleet_store.level_minutes"
        " WHERE sensor_id = %s AND minute >= %s AND minute < %s ORDER BY minute",
        (sensor_id, _ts(t_from - 60.0), _ts(t_to)),
    )
    starts, durations, coverages, planes = [], [], [], []
    for (
        minute,
        count,
        offsets,
        duration_ms,
        durations_ms,
        levels,
        coverage,
    ) in await cursor.fetchall():
        index = np.arange(count, dtype=np.float64)
        offset = np.array(offsets, dtype=np.float64) if offsets is not None else index * duration_ms
        starts.append(minute + offset / 1000.0)
        if durations_ms is not None:
            durations.append(np.array(durations_ms, dtype=np.float64) / 1000.0)
        else:
            durations.append(np.full(count, duration_ms / 1000.0))
        if coverage is not None:
            coverages.append(np.array(coverage, dtype=np.float64) / 10000.0)
        else:
            coverages.append(np.ones(count))
        planes.append(decode_levels(bytes(levels), count))
    if not starts:
        return RecordSeries.empty()
    start = np.concatenate(starts)
    matrix = np.concatenate(planes, axis=1).astype(np.float64)
    values = np.where(matrix == 0, np.nan, (matrix - _BIAS) / 100.0)
    keep = (start >= t_from) & (start < t_to)
    return RecordSeries(
        start=start[keep],
        duration_s=np.concatenate(durations)[keep],
        laeq_db=values[_LAEQ][keep],
        lafmax_db=values[_LAFMAX][keep],
        laf90_db=values[_LAF90][keep],
        lcpeak_db=values[_LCPEAK][keep],
        coverage=np.concatenate(coverages)[keep],
    )


async def load_events(
    conn: AsyncConnection, sensor_id: int, t_from: float, t_to: float
) -> EventSeries:
    cursor = await conn.execute(
        'SELECT extract(epoch FROM start)::float8, extract(epoch FROM "end")::float8, label,'
        " confidence_peak, laeq_db, lafmax_db FROM noisefleet_store.events"
        ' WHERE sensor_id = %s AND "end" > %s AND start < %s ORDER BY start, event_id',
        (sensor_id, _ts(t_from), _ts(t_to)),
    )
    rows = await cursor.fetchall()
    if not rows:
        return EventSeries.empty()
    columns = list(zip(*rows, strict=True))
    return EventSeries(
        start=np.array(columns[0], dtype=np.float64),
        end=np.array(columns[1], dtype=np.float64),
        label=tuple(columns[2]),
        confidence=np.array([_NAN if c is None else c for c in columns[3]], dtype=np.float64),
        laeq_db=np.array(columns[4], dtype=np.float64),
        lafmax_db=np.array(columns[5], dtype=np.float64),
    )


async def load_health(
    conn: AsyncConnection, sensor_id: int, t_from: float, t_to: float
) -> HealthSeries:
    """One sensor's heartbeats and status changes over the span (with the last status before
    it), and its calibration date."""
    return (await load_health_many(conn, [sensor_id], t_from, t_to))[sensor_id]


async def data_ends(
    conn: AsyncConnection, sensor_id: int, before: float
) -> tuple[float | None, float | None]:
    """(end of the last level record, end of the last event) before ``before``: how far live
    evaluation would have got with the data stored."""
    cursor = await conn.execute(
        "SELECT extract(epoch FROM minute + (coalesce(offsets_ms[record_count],"
        " (record_count - 1) * duration_ms) + coalesce(durations_ms[record_count], duration_ms))"
        " * interval '1 millisecond')::float8 FROM noisefleet_store.level_minutes"
        " WHERE sensor_id = %s AND minute < %s ORDER BY minute DESC LIMIT 1",
        (sensor_id, _ts(before)),
    )
    row = await cursor.fetchone()
    levels_end = min(row[0], before) if row else None
    cursor = await conn.execute(
        'SELECT extract(epoch FROM max("end"))::float8 FROM noisefleet_store.events'
        " WHERE sensor_id = %s AND start < %s",
        (sensor_id, _ts(before)),
    )
    row = await cursor.fetchone()
    events_end = min(row[0], before) if row and row[0] is not None else None
    return levels_end, events_end


async def load_health_many(
    conn: AsyncConnection, sensor_ids: Sequence[int], t_from: float, t_to: float
) -> dict[int, HealthSeries]:
    """``load_health`` for many sensors in three queries (the clock-driven health pass)."""
    ids = list(sensor_ids)
    beats: dict[int, list[tuple[float, int, bool, str | None]]] = {i: [] for i in ids}
    cursor = await conn.execute(
        "SELECT sensor_id, extract(epoch FROM sent_at)::float8, outbox_depth, clock_synced,"
        " source_error FROM noisefleet_store.heartbeats WHERE sensor_id = ANY(%s)"
        " AND sent_at >= %s AND sent_at < %s ORDER BY sensor_id, sent_at",
        (ids, _ts(t_from), _ts(t_to)),
    )
    for sid, at, depth, synced, error in await cursor.fetchall():
        beats[sid].append((at, depth, synced, error))
    statuses: dict[int, list[tuple[float, str]]] = {i: [] for i in ids}
    cursor = await conn.execute(
        "SELECT sensor_id, extract(epoch FROM at)::float8, state FROM ("
        " SELECT DISTINCT ON (sensor_id) sensor_id, at, state FROM noisefleet_store.status_log"
        " WHERE sensor_id = ANY(%s) AND at < %s ORDER BY sensor_id, at DESC) before"
        " UNION ALL SELECT sensor_id, extract(epoch FROM at)::float8, state"
        " FROM noisefleet_store.status_log WHERE sensor_id = ANY(%s) AND at >= %s AND at < %s"
        " ORDER BY 1, 2",
        (ids, _ts(t_from), ids, _ts(t_from), _ts(t_to)),
    )
    for sid, at, state in await cursor.fetchall():
        statuses[sid].append((at, state))
    cursor = await conn.execute(
        "SELECT sensor_id, calibration_date FROM noisefleet_store.sensors"
        " WHERE sensor_id = ANY(%s)",
        (ids,),
    )
    calibrations: dict[int, date | None] = dict(await cursor.fetchall())
    return {i: _health(beats[i], statuses[i], calibrations.get(i)) for i in ids}


def _health(
    beats: Sequence[tuple[float, int, bool, str | None]],
    statuses: Sequence[tuple[float, str]],
    calibrated: date | None,
) -> HealthSeries:
    return HealthSeries(
        heartbeat_at=np.array([b[0] for b in beats], dtype=np.float64),
        outbox_depth=np.array([b[1] for b in beats], dtype=np.int64),
        clock_synced=np.array([b[2] for b in beats], dtype=np.bool_),
        source_error=tuple(b[3] for b in beats),
        status_at=np.array([s[0] for s in statuses], dtype=np.float64),
        status=tuple(s[1] for s in statuses),
        calibration_date=(
            datetime(calibrated.year, calibrated.month, calibrated.day, tzinfo=UTC).timestamp()
            if calibrated is not None
            else None
        ),
    )


async def load_sensor_data(
    conn: AsyncConnection,
    sensor_id: int,
    needs: Needs,
    timezone: str,
    noise_floor_db: float | None = None,
) -> SensorData:
    """Everything ``needs`` asks for over [t_from, t_to), as one ``SensorData``."""
    b = needs.t_to
    minutes, records = MinuteSeries.empty(), RecordSeries.empty()
    events, health = EventSeries.empty(), HealthSeries.empty()
    if needs.minutes_from is not None:
        minutes = await load_minutes(conn, sensor_id, needs.minutes_from, b, needs.histograms)
    if needs.records_from is not None:
        records = await load_records(conn, sensor_id, needs.records_from, b)
    if needs.events_from is not None:
        events = await load_events(conn, sensor_id, needs.events_from, b)
    if needs.health_from is not None:
        health = await load_health(conn, sensor_id, needs.health_from, b)
    return SensorData(
        minutes=minutes,
        records=records,
        events=events,
        health=health,
        timezone=timezone,
        noise_floor_db=noise_floor_db,
    )
