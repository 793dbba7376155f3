"""The alert engine: a thin async loop around ``evaluate_sql.evaluate_sensor``.

Steps of ``AlertEngine.run`` (until ``stop``):
1. every ``alerts.rules_refresh_s``, (re)load the rules (file + database, validated as a whole;
   an invalid set is reported in one line and the last valid one stays in force);
2. every ``alerts.interval_s``: the sensors with new data (``alert_dirty``, oldest first), a
   batch per transaction: take their evaluation locks (other server processes skip those),
   take their marks, evaluate each sensor's rules in a savepoint (a failing sensor is logged,
   keeps its mark and waits a back-off), write alerts, state and notifications, commit;
3. every ``alerts.health_interval_s``: evaluate the health rules of every sensor against the
   clock (offline, stuck, clock, calibration …), a batch of sensors per transaction (a status
   message runs its sensor's health rules at once, in step 2);
4. database down: log one line and retry later; a sensor whose evaluation fails for another
   reason is logged and retried after a back-off, without blocking the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from noisefleet_core.alerts.errors import AlertError
from noisefleet_core.alerts.rules import HealthRule, Rule, RuleSet, parse_rules
from noisefleet_server.alerts.evaluate_sql import EvaluationCounters, Preloaded, evaluate_sensor
from noisefleet_server.alerts.rules_source import load_rule_set
from noisefleet_server.alerts.store_sql import (
    SensorRef,
    all_sensors,
    close_orphans,
    dirty_sensors,
    load_states_many,
    lock_sensors,
    restore_dirty,
    take_dirty_many,
)
from noisefleet_server.config import ServerConfig
from noisefleet_server.db.alert_data_sql import load_health_many
from noisefleet_server.notify.queue_sql import enqueue as queue_notifications

log = logging.getLogger("noisefleet.alerts")

FAILURE_BACKOFF_S = 30.0
HEALTH_BATCH = 200
DIRTY_BATCH = 50

Enqueue = Callable[[AsyncConnection, Rule, dict[str, Any]], Any]


def notifier_enqueue(config: ServerConfig) -> Enqueue:
    """Queue a payload for the rule's notifiers (all configured ones when it names none)."""
    names = [n.name for n in config.notifiers]

    async def enqueue(conn: AsyncConnection, rule: Rule, payload: dict[str, Any]) -> None:
        targets = list(rule.notify or ()) or names
        if targets:
            await queue_notifications(conn, targets, payload)

    return enqueue


class AlertEngine:
    """See the module docstring; ``now`` is injectable for tests."""

    def __init__(
        self,
        config: ServerConfig,
        pool: AsyncConnectionPool,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.settings = config.alerts
        self.pool = pool
        self.now = now
        self.rules: RuleSet = parse_rules({"rules": []})
        self.rules_error: str | None = None
        self.counters = EvaluationCounters()
        self.enqueue = notifier_enqueue(config)
        self.wake = asyncio.Event()
        self._failed: dict[int, float] = {}
        self._rules_loaded_at = -1e18
        self._health_at = -1e18

    async def refresh_rules(self, force: bool = False) -> None:
        clock = time.monotonic()
        if not force and clock - self._rules_loaded_at < self.settings.rules_refresh_s:
            return
        self._rules_loaded_at = clock
        names = [n.name for n in self.config.notifiers]
        try:
            async with self.pool.connection() as conn:
                rules = await load_rule_set(conn, self.settings.rules_file, names)
                active = [r.id for r in rules.rules if r.enabled]
                closed = await close_orphans(conn, active)
            if closed:
                log.info("alerts: %d open alert(s) of removed or disabled rules closed", closed)
        except AlertError as error:
            if str(error) != self.rules_error:
                log.error("alert rules not applied (the previous rules stay in force): %s", error)
            self.rules_error = str(error)
            return
        self.rules_error = None
        self.rules = rules

    def _fail(self, ref: SensorRef, error: Exception) -> None:
        self._failed[ref.sensor_id] = time.monotonic() + FAILURE_BACKOFF_S
        log.error(
            "alerts: %s/%s not evaluated (retry in %.0f s): %s",
            ref.site,
            ref.sensor,
            FAILURE_BACKOFF_S,
            " ".join(str(error).split())[:300],
        )

    async def pass_dirty(self) -> int:
        """Sensors with new data, oldest mark first, ``DIRTY_BATCH`` per transaction; the
        number of sensors looked at."""
        async with self.pool.connection() as conn:
            refs = await dirty_sensors(conn, self.settings.max_sensors_per_pass)
        for i in range(0, len(refs), DIRTY_BATCH):
            await self._dirty_batch(refs[i : i + DIRTY_BATCH])
        return len(refs)

    async def _dirty_batch(self, refs: list[SensorRef]) -> None:
        todo = [
            ref
            for ref in refs
            if (retry := self._failed.get(ref.sensor_id)) is None or time.monotonic() >= retry
        ]
        if not todo:
            return
        now = self.now()
        async with self.pool.connection() as conn, conn.transaction():
            locked = await lock_sensors(conn, [ref.sensor_id for ref in todo])
            dirty = await take_dirty_many(conn, locked)
            states = await load_states_many(conn, list(dirty))
            for ref in todo:
                marks = dirty.get(ref.sensor_id)
                if marks is None:
                    continue
                rules = [
                    r
                    for r in self.rules.for_sensor(ref.site, ref.sensor)
                    if r.kind != "health" or marks.health  # a status message: health at once
                ]
                if not rules:
                    continue
                try:
                    async with conn.transaction():  # a savepoint: one sensor's failure is its own
                        await evaluate_sensor(
                            conn,
                            ref,
                            rules,
                            marks,
                            now,
                            self.settings.late_after_s,
                            self.enqueue,
                            self.counters,
                            Preloaded(states[ref.sensor_id], None),
                        )
                except (psycopg.OperationalError, PoolTimeout):
                    raise
                except (AlertError, psycopg.Error, ValueError, ArithmeticError) as error:
                    # the data stays marked: evaluated again after the back-off
                    self._fail(ref, error)
                    await restore_dirty(conn, ref.sensor_id, marks)
                else:
                    self._failed.pop(ref.sensor_id, None)

    async def pass_health(self) -> None:
        """Health rules of every sensor against the clock, ``HEALTH_BATCH`` sensors per
        transaction (states and heartbeats read for the batch at once)."""
        if not any(r.kind == "health" for r in self.rules.rules):
            return
        async with self.pool.connection() as conn:
            refs = await all_sensors(conn)
        for i in range(0, len(refs), HEALTH_BATCH):
            await self._health_batch(refs[i : i + HEALTH_BATCH])

    async def _health_batch(self, refs: list[SensorRef]) -> None:
        now = self.now()
        todo = []
        for ref in refs:
            rules = [
                r for r in self.rules.for_sensor(ref.site, ref.sensor) if isinstance(r, HealthRule)
            ]
            retry_at = self._failed.get(ref.sensor_id)
            if rules and (retry_at is None or time.monotonic() >= retry_at):
                todo.append((ref, rules))
        if not todo:
            return
        lookback = max(r.lookback_s + r.step_s for _, rules in todo for r in rules)
        async with self.pool.connection() as conn, conn.transaction():
            locked = set(await lock_sensors(conn, [ref.sensor_id for ref, _ in todo]))
            ids = [ref.sensor_id for ref, _ in todo if ref.sensor_id in locked]
            states = await load_states_many(conn, ids)
            health = await load_health_many(conn, ids, now - lookback - 3600.0, now)
            for ref, rules in todo:
                if ref.sensor_id not in locked:
                    continue
                try:
                    async with conn.transaction():  # a savepoint: one sensor's failure is its own
                        await evaluate_sensor(
                            conn,
                            ref,
                            rules,
                            None,
                            now,
                            self.settings.late_after_s,
                            self.enqueue,
                            self.counters,
                            Preloaded(states[ref.sensor_id], health[ref.sensor_id]),
                        )
                except (psycopg.OperationalError, PoolTimeout):
                    raise
                except (AlertError, psycopg.Error, ValueError, ArithmeticError) as error:
                    self._fail(ref, error)

    async def run_once(self) -> None:
        """One refresh + dirty pass + health pass (tests and ``alerts evaluate``)."""
        await self.refresh_rules(force=True)
        while await self.pass_dirty() >= self.settings.max_sensors_per_pass:
            pass
        await self.pass_health()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh_rules()
                busy = await self.pass_dirty() >= self.settings.max_sensors_per_pass
                if time.monotonic() - self._health_at >= self.settings.health_interval_s:
                    self._health_at = time.monotonic()
                    await self.pass_health()
            except (psycopg.OperationalError, PoolTimeout) as error:
                log.warning("alerts: database unavailable (%s)", " ".join(str(error).split())[:200])
                busy = False
            if busy:
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self.wake), self.settings.interval_s)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
