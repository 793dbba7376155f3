"""The delivery worker: drains the notification queue (one per server process; several share it).

Steps of ``DeliveryWorker.run`` (one TaskGroup; ``stop`` only ends the claiming):
1. LISTEN on a dedicated connection: ``enqueue``'s ``pg_notify`` wakes the worker at commit;
   it also wakes every ``notify.interval_s`` (the fallback), when a retry is due, and when a
   delivery slot frees up;
2. per notifier, claim due rows (``queue_sql.claim``: ``FOR UPDATE SKIP LOCKED``, a lease of
   ``timeout_s + notify.lease_margin_s``, committed at once) up to ``notify.max_in_flight``
   deliveries in flight, so a hanging receiver delays only its own notifier;
3. deliver each claimed row in its own task, outside any transaction (``deliver``, ``mail``,
   ``broker``), and record the outcome: delivered; retry after an exponential back-off from
   ``first_backoff_s`` to ``max_backoff_s`` (with jitter; at least a ``Retry-After``) until
   ``give_up_after_s`` after queueing, then failed; failed at once when the receiver refused;
4. ``stop``: claim no more, finish the deliveries in flight and record them, then close the
   listener and the MQTT connection.
Guarantee: at least once. A worker that dies mid-delivery leaves its rows leased; another
worker (or the restarted one) takes them over when the lease ends and delivers again, so a
receiver may see a notification twice and de-duplicates by ``X-Noisefleet-Notification-Id``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from noisefleet_mqtt import backoff_delay, one_line
from noisefleet_server.config import ServerConfig
from noisefleet_server.ingest.service import Backoff
from noisefleet_server.notify import queue_sql
from noisefleet_server.notify.broker import MqttLink
from noisefleet_server.notify.config import (
    EmailSettings,
    MqttNotifierSettings,
    NotifierSettings,
    WebhookSettings,
)
from noisefleet_server.notify.deliver import Delivered, Failed, Outcome, Retry, post_webhook
from noisefleet_server.notify.errors import NotifyError
from noisefleet_server.notify.mail import send_email
from noisefleet_server.notify.queue_sql import Claimed

log = logging.getLogger("noisefleet.notify")

_DATABASE_DOWN = (psycopg.OperationalError, PoolTimeout)


@dataclass
class DeliveryCounters:
    passes: int = 0
    """Claim passes (wakes): a handful per delivery and ``interval_s``, never a busy loop."""
    claimed: int = 0
    delivered: int = 0
    retries: int = 0
    """Attempts that will be retried."""
    failed: int = 0
    """Notifications that reached state 'failed' (refused, or given up)."""
    taken_over: int = 0
    """Rows claimed after another worker's lease ran out (it died mid-delivery)."""
    unrecorded: int = 0
    """Outcomes that could not be written before the lease ran out (redelivered later)."""
    database_retries: int = 0


class DeliveryWorker:
    """Delivers the queued notifications of ``config.notifiers`` (see the module docstring).
    The constructor does no I/O."""

    def __init__(
        self, config: ServerConfig, pool: AsyncConnectionPool, *, worker_id: str | None = None
    ) -> None:
        self.config = config
        self.pool = pool
        self.notifiers: dict[str, NotifierSettings] = {n.name: n for n in config.notifiers}
        self.worker_id = worker_id or (
            f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"
        )
        self.counters = DeliveryCounters()
        self.listening = asyncio.Event()
        """Set while LISTEN is active (enqueue wakes the worker at once)."""
        self._wake = asyncio.Event()
        self._in_flight = dict.fromkeys(self.notifiers, 0)
        needs_mqtt = any(isinstance(n, MqttNotifierSettings) for n in config.notifiers)
        self._mqtt = MqttLink(config.mqtt) if needs_mqtt else None

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then finish the deliveries in flight."""
        if not self.notifiers:
            return
        done = asyncio.Event()
        async with asyncio.TaskGroup() as services:
            listener = services.create_task(self._listen())
            if self._mqtt is not None:
                services.create_task(self._mqtt.run(done))
            try:
                async with asyncio.TaskGroup() as deliveries:
                    await self._dispatch(stop, deliveries)
            finally:
                done.set()
                listener.cancel()
        c = self.counters
        log.info(
            "notifications stopped: %d claimed, %d delivered, %d retried, %d failed",
            c.claimed,
            c.delivered,
            c.retries,
            c.failed,
        )

    # -- waking --------------------------------------------------------------------------------

    async def _listen(self) -> None:
        database = self.config.database
        backoff = Backoff(max_s=self.config.mqtt.reconnect_max_s)
        while True:
            delay = backoff.delay()
            try:
                conn = await psycopg.AsyncConnection.connect(
                    database.url,
                    autocommit=True,
                    connect_timeout=max(1, round(database.connect_timeout_s)),
                )
                async with conn:
                    await conn.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(queue_sql.CHANNEL))
                    )
                    self.listening.set()
                    self._wake.set()  # whatever was queued while we were not listening
                    backoff.reset()
                    async for _ in conn.notifies():
                        self._wake.set()
            except psycopg.OperationalError as error:
                log.warning(
                    "notifications: LISTEN connection lost (%s); polling, reconnecting in %.1f s",
                    one_line(error),
                    delay,
                )
            finally:
                self.listening.clear()
            await asyncio.sleep(delay)

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        if seconds <= 0:
            return
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    # -- claiming ------------------------------------------------------------------------------

    async def _dispatch(self, stop: asyncio.Event, deliveries: asyncio.TaskGroup) -> None:
        backoff = Backoff(max_s=self.config.mqtt.reconnect_max_s)
        warned = False
        while not stop.is_set():
            self._wake.clear()
            try:
                if not warned:
                    await self._warn_unconfigured()
                    warned = True
                wait_s = await self._claim_pass(deliveries)
                backoff.reset()
            except _DATABASE_DOWN as error:
                self.counters.database_retries += 1
                wait_s = backoff.delay()
                log.warning(
                    "notifications: database unavailable (%s); retry in %.1f s",
                    one_line(error),
                    wait_s,
                )
            await self._sleep(stop, wait_s)

    async def _warn_unconfigured(self) -> None:
        async with self.pool.connection() as conn:
            if not await queue_sql.queue_exists(conn):
                raise NotifyError(
                    "the database has no notification queue: run `noisefleet-server migrate`"
                )
            waiting = await queue_sql.open_without_notifier(conn, list(self.notifiers))
        for name, count in waiting:
            log.warning(
                "notifications: %d queued for notifier %r, which is not configured: they wait "
                "until it is",
                count,
                name,
            )

    async def _claim_pass(self, deliveries: asyncio.TaskGroup) -> float:
        """Claim and start what is due; how long to sleep before the next pass."""
        settings = self.config.notify
        self.counters.passes += 1
        more = False
        async with self.pool.connection() as conn:
            for name, notifier in self.notifiers.items():
                free = settings.max_in_flight - self._in_flight[name]
                if free <= 0:
                    continue  # a finishing delivery wakes us
                limit = min(free, settings.batch)
                lease_s = notifier.timeout_s + settings.lease_margin_s
                rows = await queue_sql.claim(conn, name, limit, lease_s, self.worker_id)
                more = more or (len(rows) == limit and limit < free)
                for row in rows:
                    self.counters.claimed += 1
                    if row.was == "delivering":
                        self.counters.taken_over += 1
                        log.warning(
                            "notifications: %s to %s taken over after a lease ran out "
                            "(a worker died mid-delivery; it may arrive twice)",
                            row.notification_id,
                            name,
                        )
                    self._in_flight[name] += 1
                    deliveries.create_task(self._deliver(notifier, row))
            if more:
                return 0.0
            due = await queue_sql.seconds_until_due(conn, list(self.notifiers))
        interval = settings.interval_s
        return interval if due is None else min(interval, due)

    # -- delivering ----------------------------------------------------------------------------

    async def _attempt(self, notifier: NotifierSettings, row: Claimed) -> Outcome:
        if isinstance(notifier, WebhookSettings):
            return await post_webhook(notifier, row)
        if isinstance(notifier, EmailSettings):
            return await send_email(notifier, row)
        assert self._mqtt is not None  # created whenever an MQTT notifier is configured
        return await self._mqtt.publish(notifier, row)

    async def _deliver(self, notifier: NotifierSettings, row: Claimed) -> None:
        try:
            outcome = await self._attempt(notifier, row)
            await self._record(notifier, row, outcome)
        finally:
            self._in_flight[notifier.name] -= 1
            self._wake.set()

    async def _record(self, notifier: NotifierSettings, row: Claimed, outcome: Outcome) -> None:
        """Write the outcome, retrying while the database is down, at most until the lease
        ends (after that another worker may have taken the row: it is delivered again)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.notify.lease_margin_s
        backoff = Backoff(first_s=0.1, max_s=5.0)
        while True:
            try:
                async with self.pool.connection() as conn:
                    await self._write(conn, notifier, row, outcome)
                return
            except _DATABASE_DOWN as error:
                self.counters.database_retries += 1
                delay = backoff.delay()
                if loop.time() + delay > deadline:
                    self.counters.unrecorded += 1
                    log.warning(
                        "notifications: cannot record the outcome of %s (%s); it will be "
                        "delivered again after its lease",
                        row.notification_id,
                        one_line(error),
                    )
                    return
                await asyncio.sleep(delay)

    async def _write(
        self,
        conn: psycopg.AsyncConnection,
        notifier: NotifierSettings,
        row: Claimed,
        outcome: Outcome,
    ) -> None:
        target = f"{row.notification_id} ({row.event}) to {notifier.name}"
        if isinstance(outcome, Delivered):
            await queue_sql.mark_delivered(conn, row.id, outcome.note)
            self.counters.delivered += 1
            log.info("notifications: delivered %s, attempt %d", target, row.attempts)
            if outcome.note:
                log.warning("notifications: %s: %s", target, outcome.note)
        elif isinstance(outcome, Failed):
            await queue_sql.mark_failed(conn, row, outcome.error)
            self.counters.failed += 1
            log.error("notifications: %s failed, not retried: %s", target, outcome.error)
        else:
            delay = retry_delay(notifier, row.attempts, outcome, random.random())
            state = await queue_sql.mark_retry(
                conn, row, outcome.error, delay, notifier.give_up_after_s
            )
            if state == "failed":
                self.counters.failed += 1
                log.error("notifications: %s failed, gave up: %s", target, outcome.error)
            elif state == "queued":
                self.counters.retries += 1
                log.warning(
                    "notifications: %s attempt %d: %s; retry in %.1f s",
                    target,
                    row.attempts,
                    outcome.error,
                    delay,
                )


def retry_delay(notifier: NotifierSettings, attempts: int, outcome: Retry, jitter: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones (pure)."""
    delay = backoff_delay(attempts - 1, notifier.first_backoff_s, notifier.max_backoff_s, jitter)
    if outcome.after_s is not None:
        delay = max(delay, min(outcome.after_s, notifier.max_backoff_s))
    return delay
