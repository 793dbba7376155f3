"""Retention: 1-s level records, heartbeats, message ids, dead letters and finished
notifications older than configured.

Plain PostgreSQL: whole monthly partitions of ``level_minutes`` are dropped once their last
minute is older than the retention (so up to a month more is kept); TimescaleDB: a retention
policy drops chunks. Roll-ups, events, Lden and alerts are kept for ever.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from psycopg import AsyncConnection, sql

from noisefleet_server.config import RetentionSettings
from noisefleet_server.db.minute_rows_sql import ensure_month_partition


async def ensure_upcoming_partitions(conn: AsyncConnection, now: datetime) -> None:
    """This month's and next month's partitions (plain PostgreSQL)."""
    this_month = date(now.year, now.month, 1)
    following = date(now.year + now.month // 12, now.month % 12 + 1, 1)
    for month in (this_month, following):
        await ensure_month_partition(conn, month)


async def apply_retention(
    conn: AsyncConnection, settings: RetentionSettings, timescale: bool, now: datetime | None = None
) -> list[str]:
    """Drop what is past its retention; the partitions dropped."""
    now = now or datetime.now(UTC)
    dropped: list[str] = []
    if timescale:
        await conn.execute(
            "SELECT add_retention_policy('noisefleet_store.level_minutes', %s::interval,"
            " if_not_exists => true)",
            (f"{settings.level_records_days} days",),
        )
    else:
        cutoff = now - timedelta(days=settings.level_records_days)
        cursor = await conn.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'noisefleet_store.level_minutes'::regclass"
        )
        for name, bound in await cursor.fetchall():
            # FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')
            upper = bound.split("TO ('", 1)[1].split("'", 1)[0]
            if datetime.fromisoformat(upper) <= cutoff:
                await conn.execute(
                    sql.SQL("DROP TABLE noisefleet_store.{}").format(sql.Identifier(name))
                )
                dropped.append(name)
    for table, column, days in (
        ("heartbeats", "sent_at", settings.heartbeats_days),
        ("messages", "received_at", settings.message_ids_days),
        ("dead_letters", "received_at", settings.dead_letters_days),
    ):
        await conn.execute(
            sql.SQL("DELETE FROM noisefleet_store.{} WHERE {} < %s").format(
                sql.Identifier(table), sql.Identifier(column)
            ),
            (now - timedelta(days=days),),
        )
    # Notifications delivered or given up (queued ones are kept whatever their age).
    await conn.execute(
        "DELETE FROM noisefleet_store.notifications WHERE state IN ('delivered', 'failed')"
        " AND created_at < %s",
        (now - timedelta(days=settings.notifications_days),),
    )
    return dropped
