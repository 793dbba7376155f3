"""``noisefleet-server run``: ingest, roll-up maintenance and retention in one asyncio service.

Steps:
1. open the connection pool (waiting for the database with back-off) and check that the schema
   is migrated; create the partitions of this month and the next;
2. run, in one TaskGroup: the ingest worker, the roll-up loop (every ``rollups.interval_s``),
   the retention loop (hourly), the agents' state reports (``state_reports``: answers of the
   commands sent), the alert engine (``alerts.engine``) and, with notifiers configured, the
   notification worker;
3. SIGTERM/SIGINT only set ``stop``: the ingest stops reading, commits and acknowledges what it
   holds, disconnects; the loops finish their pass; the pool closes; exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from noisefleet_server.alerts.engine import AlertEngine
from noisefleet_server.config import ServerConfig
from noisefleet_server.db.retention_sql import apply_retention, ensure_upcoming_partitions
from noisefleet_server.db.rollups_sql import run_rollup_pass
from noisefleet_server.errors import ServerError
from noisefleet_server.ingest.service import Backoff, IngestWorker
from noisefleet_server.notify.worker import DeliveryWorker
from noisefleet_server.state_reports import StateListener

log = logging.getLogger("noisefleet.server")

RETENTION_INTERVAL_S = 3600.0


def make_pool(config: ServerConfig, *, open_now: bool = False) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        config.database.url,
        min_size=1,
        max_size=config.database.pool_max_size,
        kwargs={"autocommit": True, "connect_timeout": config.database.connect_timeout_s},
        open=open_now,
        timeout=config.database.connect_timeout_s,
        reconnect_timeout=0,  # a failed reconnect is dropped at once: services retry with back-off
    )


async def _schema_ready(pool: AsyncConnectionPool) -> bool:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT to_regclass('noisefleet_store.schema_migrations') IS NOT NULL"
        )
        row = await cursor.fetchone()
        if not row or not row[0]:
            raise ServerError("the database is not migrated: run `noisefleet-server migrate`")
        cursor = await conn.execute(
            "SELECT coalesce(bool_or(timescale), false) FROM noisefleet_store.schema_migrations"
        )
        row = await cursor.fetchone()
        return bool(row and row[0])


async def _loop(name: str, interval_s: float, stop: asyncio.Event, body) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        try:
            await body()
        except (psycopg.OperationalError, PoolTimeout) as error:
            log.warning("%s: database unavailable (%s)", name, " ".join(str(error).split())[:200])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


async def serve(
    config: ServerConfig, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    """Run until ``stop`` is set (see the module docstring)."""
    async with make_pool(config) as pool:
        backoff = Backoff(max_s=config.mqtt.reconnect_max_s)
        while True:
            try:
                timescale = await _schema_ready(pool)
                break
            except (psycopg.OperationalError, PoolTimeout) as error:
                delay = backoff.delay()
                log.warning(
                    "database unavailable (%s); retry in %.1f s",
                    " ".join(str(error).split())[:200],
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return
        if not timescale:
            async with pool.connection() as conn:
                await ensure_upcoming_partitions(conn, datetime.now(UTC))
        worker = IngestWorker(config, pool, timescale=timescale)
        engine = AlertEngine(config, pool) if config.alerts.enabled else None

        async def rollups() -> None:
            async with pool.connection() as conn:
                while True:
                    result = await run_rollup_pass(conn, config.rollups.max_hours_per_pass)
                    if result.hours < config.rollups.max_hours_per_pass:
                        return

        async def retention() -> None:
            async with pool.connection() as conn:
                dropped = await apply_retention(conn, config.retention, timescale)
                if not timescale:
                    await ensure_upcoming_partitions(conn, datetime.now(UTC))
            if dropped:
                log.info("retention dropped %s", ", ".join(dropped))

        async def announce() -> None:
            await worker.connected.wait()
            if ready is not None:
                ready.set()

        async with asyncio.TaskGroup() as group:
            group.create_task(worker.run(stop))
            group.create_task(StateListener(config.mqtt, pool).run(stop))
            group.create_task(_loop("roll-ups", config.rollups.interval_s, stop, rollups))
            group.create_task(_loop("retention", RETENTION_INTERVAL_S, stop, retention))
            if engine is not None:
                group.create_task(engine.run(stop))
            if config.notifiers:  # queued notifications delivered
                group.create_task(DeliveryWorker(config, pool).run(stop))
            announcer = group.create_task(announce())
            await stop.wait()
            announcer.cancel()
        with contextlib.suppress(psycopg.Error, PoolTimeout):
            async with pool.connection() as conn:
                await run_rollup_pass(conn, config.rollups.max_hours_per_pass)
        c = worker.counters
        log.info(
            "stopped: %d message(s) received, %d stored, %d duplicate(s), %d dead letter(s)",
            c.received,
            c.stored,
            c.duplicates,
            c.dead_letters,
        )


def run(config: ServerConfig) -> int:
    """The ``run`` command: serve until SIGTERM/SIGINT; the exit status."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop)

    failures: list[BaseException] = []
    try:
        asyncio.run(main())
    except* ServerError as group:
        failures.extend(group.exceptions)
    for error in failures:
        log.error("%s", error)
    return 1 if failures else 0
