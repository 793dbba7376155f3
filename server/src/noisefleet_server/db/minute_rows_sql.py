"""Level records in sensor-minute rows: the columns, their stored form, the monthly partitions
and the merge of a batch's records (``store_levels``), inside the ingest transaction.

``store_levels``:
1. groups the batch's records by (sensor, UTC minute) and makes sure the month's partition
   exists (plain PostgreSQL);
2. reads the rows those minutes already have, merges the new records in (``merge_minute``:
   a record whose start is already there is a duplicate);
3. writes the changed rows with binary COPY into a staging table and one upsert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from psycopg import AsyncConnection, sql

from noisefleet_server.ingest.classify import Accepted
from noisefleet_server.ingest.minutes import (
    HistogramSum,
    MinuteRow,
    decode_histogram,
    decode_levels,
    encode_histogram,
    encode_levels,
    group_by_minute,
    hour_of,
    merge_minute,
)

PARTITION_LOCK_SPACE = 0x4E47  # advisory lock namespace of partition creation

MINUTE_COLUMNS = (
    "sensor_id",
    "minute",
    "record_count",
    "offsets_ms",
    "duration_ms",
    "durations_ms",
    "levels",
    "coverage",
    "calibrated",
    "calibrated_each",
    "energy",
    "measured_s",
    "laeq_cdb",
    "lafmax_cdb",
    "lcpeak_cdb",
    "laf10_cdb",
    "laf50_cdb",
    "laf90_cdb",
    "hist_width",
    "hist_first",
    "hist",
    "share_labels",
    "share_energy",
    "clipped_samples",
    "invalid_samples",
)
MINUTE_TYPES = (
    "int4",
    "timestamptz",
    "int2",
    "int4[]",
    "int4",
    "int4[]",
    "bytea",
    "int2[]",
    "bool",
    "bool[]",
    "float8",
    "float8",
    *(["int2"] * 6),
    "float4",
    "int4",
    "bytea",
    "text[]",
    "float4[]",
    "int4",
    "int4",
)
_COLUMN_LIST = sql.SQL(", ").join(map(sql.Identifier, MINUTE_COLUMNS))
_UPDATE_LIST = sql.SQL(", ").join(
    sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in MINUTE_COLUMNS[2:]
)


class PartitionCache:
    """Monthly partitions of level_minutes known to exist (plain PostgreSQL path)."""

    def __init__(self, timescale: bool) -> None:
        self.timescale = timescale
        self.months: set[date] = set()

    async def ensure(self, conn: AsyncConnection, minutes: Iterable[datetime]) -> None:
        if self.timescale:
            return
        needed = {date(m.year, m.month, 1) for m in minutes} - self.months
        for month in sorted(needed):
            await ensure_month_partition(conn, month)
            self.months.add(month)


async def ensure_month_partition(conn: AsyncConnection, month: date) -> None:
    """Create the partition of ``month`` if it does not exist (safe against a racing worker)."""
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    name = f"level_minutes_{month:%Y%m}"
    async with conn.transaction():  # a savepoint when inside the batch transaction
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", (PARTITION_LOCK_SPACE, month.toordinal())
        )
        cursor = await conn.execute("SELECT to_regclass(%s)", (f"noisefleet_store.{name}",))
        row = await cursor.fetchone()
        if row and row[0] is not None:
            return
        await conn.execute(
            sql.SQL(
                "CREATE TABLE noisefleet_store.{} PARTITION OF noisefleet_store.level_minutes"
                " FOR VALUES FROM ({}) TO ({})"
            ).format(
                sql.Identifier(name),
                sql.Literal(f"{month.isoformat()} 00:00:00+00"),
                sql.Literal(f"{following.isoformat()} 00:00:00+00"),
            )
        )


def _centi(value: float | None) -> int | None:
    return None if value is None else max(-32767, min(32767, round(value * 100)))


def _from_centi(value: int | None) -> float | None:
    return None if value is None else value / 100


def _row_from_db(values: Sequence[object]) -> MinuteRow:
    data: dict[str, Any] = dict(zip(MINUTE_COLUMNS, values, strict=True))
    count = int(data["record_count"])
    if data["durations_ms"] is None:
        durations = np.full(count, data["duration_ms"], dtype=np.int64)
    else:
        durations = np.asarray(data["durations_ms"], dtype=np.int64)
    if data["offsets_ms"] is None:
        offsets = np.arange(count, dtype=np.int64) * int(data["duration_ms"])
    else:
        offsets = np.asarray(data["offsets_ms"], dtype=np.int64)
    coverage = (
        np.full(count, 10000, dtype=np.int64)
        if data["coverage"] is None
        else np.asarray(data["coverage"], dtype=np.int64)
    )
    calibrated = (
        np.full(count, bool(data["calibrated"]))
        if data["calibrated_each"] is None
        else np.asarray(data["calibrated_each"], dtype=bool)
    )
    histogram = HistogramSum()
    if data["hist"] is not None:
        histogram.add(
            float(data["hist_width"]), int(data["hist_first"]), decode_histogram(data["hist"])
        )
    return MinuteRow(
        sensor_id=data["sensor_id"],
        minute=data["minute"],
        offsets_ms=offsets,
        durations_ms=durations,
        levels=decode_levels(bytes(data["levels"]), count),
        coverage=coverage,
        calibrated=calibrated,
        energy=float(data["energy"]),
        measured_s=float(data["measured_s"]),
        lafmax_db=_from_centi(data["lafmax_cdb"]),
        lcpeak_db=_from_centi(data["lcpeak_cdb"]),
        histogram=histogram,
        share_energy=dict(zip(data["share_labels"], data["share_energy"], strict=True)),
        clipped_samples=int(data["clipped_samples"]),
        invalid_samples=int(data["invalid_samples"]),
    )


def _row_to_db(row: MinuteRow) -> tuple[object, ...]:
    """The stored form; what is the same for every record is stored once."""
    p10, p50, p90 = row.percentiles()
    labels = sorted(row.share_energy)
    hist = row.histogram
    has_hist = hist.width is not None and hist.counts.size > 0
    uniform_duration = bool(row.count) and bool(np.all(row.durations_ms == row.durations_ms[0]))
    regular = uniform_duration and row.regular_offsets()
    uniform_calibrated = bool(np.all(row.calibrated == row.calibrated[0]))
    full_coverage = bool(np.all(row.coverage == 10000))
    return (
        row.sensor_id,
        row.minute,
        row.count,
        None if regular else row.offsets_ms.tolist(),
        int(row.durations_ms[0]) if uniform_duration else None,
        None if uniform_duration else row.durations_ms.tolist(),
        encode_levels(row.levels),
        None if full_coverage else row.coverage.tolist(),
        bool(row.calibrated[0]) if uniform_calibrated else None,
        None if uniform_calibrated else row.calibrated.tolist(),
        row.energy,
        row.measured_s,
        _centi(row.laeq_db),
        _centi(row.lafmax_db),
        _centi(row.lcpeak_db),
        _centi(p10),
        _centi(p50),
        _centi(p90),
        hist.width if has_hist else None,
        hist.first if has_hist else None,
        encode_histogram(hist.counts) if has_hist else None,
        labels,
        [row.share_energy[k] for k in labels],
        row.clipped_samples,
        row.invalid_samples,
    )


async def store_levels(
    conn: AsyncConnection,
    items: list[tuple[int, Accepted]],
    partitions: PartitionCache,
) -> tuple[int, set[tuple[int, datetime]]]:
    groups = group_by_minute((sid, r) for sid, item in items for r in item.levels)
    if not groups:
        return 0, set()
    await partitions.ensure(conn, (minute for _, minute in groups))
    keys = sorted(groups)
    cursor = await conn.execute(
        sql.SQL("SELECT {} FROM noisefleet_store.level_minutes m").format(
            sql.SQL(", ").join(sql.Identifier("m", c) for c in MINUTE_COLUMNS)
        )
        + sql.SQL(
            " JOIN unnest(%s::int4[], %s::timestamptz[]) AS k(sensor_id, minute)"
            " ON m.sensor_id = k.sensor_id AND m.minute = k.minute"
        ),
        ([k[0] for k in keys], [k[1] for k in keys]),
    )
    existing = {(r[0], r[1]): _row_from_db(r) for r in await cursor.fetchall()}
    changed: list[MinuteRow] = []
    added = 0
    for key in keys:
        before = existing.get(key)
        count_before = before.count if before else 0
        merged = merge_minute(before, key[0], key[1], groups[key])
        if merged is not None:
            changed.append(merged)
            added += merged.count - count_before
    if not changed:
        return 0, set()
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS stage_minutes"
        " (LIKE noisefleet_store.level_minutes) ON COMMIT DELETE ROWS"
    )
    cur = conn.cursor()
    copy_sql = sql.SQL("COPY stage_minutes ({}) FROM STDIN (FORMAT BINARY)").format(_COLUMN_LIST)
    async with cur.copy(copy_sql) as copy:
        copy.set_types(list(MINUTE_TYPES))
        for row in changed:
            await copy.write_row(_row_to_db(row))
    await conn.execute(
        sql.SQL(
            "INSERT INTO noisefleet_store.level_minutes ({0}) SELECT {0} FROM stage_minutes"
            " ON CONFLICT (sensor_id, minute) DO UPDATE SET {1}"
        ).format(_COLUMN_LIST, _UPDATE_LIST)
    )
    return added, {(row.sensor_id, hour_of(row.minute)) for row in changed}
