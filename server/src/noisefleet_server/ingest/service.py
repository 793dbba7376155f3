"""The ingest worker: MQTT 5 shared subscription → classified batches → PostgreSQL, exactly once.

Steps of ``run_ingest`` (one TaskGroup; SIGTERM/SIGINT only set ``stop``):
1. connect to the broker with a persistent session and manual acknowledgements, subscribe to
   ``$share/<group>/noisefleet/v1/+/+/<kind>`` for every data kind (N workers split the load;
   while all are down the broker queues for their sessions);
2. collect messages into a batch (at most ``batch_max_messages``, at most
   ``batch_max_wait_s`` after its first message), classify them (accepted or dead letter);
3. store the batch in one transaction (``db.ingest_sql.store_batch``); only after COMMIT
   acknowledge every message of the batch to the broker, in order;
4. database down: keep the batch, acknowledge nothing, retry with back-off (the broker keeps
   the unacknowledged messages and sends no more than ``receive_maximum``); a batch the database
   refuses for its content is retried message by message and the culprit dead-lettered;
5. broker down: reconnect with back-off; unacknowledged messages are redelivered and dropped
   as duplicates by the database;
6. stop: read no more, commit and acknowledge the batch in hand, disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from noisefleet_core.contract.topics import DATA_KINDS, shared_subscription
from noisefleet_mqtt import backoff_delay
from noisefleet_server.config import ServerConfig
from noisefleet_server.db.ingest_sql import BatchResult, SensorCache, store_batch
from noisefleet_server.db.minute_rows_sql import PartitionCache
from noisefleet_server.ingest.classify import Accepted, Rejected, classify
from noisefleet_server.mqtt import ack, default_client_id, make_client
from noisefleet_server.registry import resend_desired_settings

log = logging.getLogger("noisefleet.ingest")


@dataclass
class IngestCounters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    level_records: int = 0
    batches: int = 0
    database_retries: int = 0
    broker_reconnects: int = 0


class Backoff:
    """Exponential back-off with jitter (``noisefleet_mqtt.backoff_delay``), reset by a success."""

    def __init__(self, first_s: float = 0.5, max_s: float = 30.0) -> None:
        self.first_s, self.max_s, self.attempt = first_s, max_s, 0

    def delay(self) -> float:
        value = backoff_delay(self.attempt, self.first_s, self.max_s, random.random())
        self.attempt += 1
        return value

    def reset(self) -> None:
        self.attempt = 0


class IngestWorker:
    """One ingest worker (see the module docstring)."""

    def __init__(self, config: ServerConfig, pool: AsyncConnectionPool, *, timescale: bool) -> None:
        self.config = config
        self.pool = pool
        self.sensors = SensorCache()
        self.partitions = PartitionCache(timescale)
        self.counters = IngestCounters()
        self.connected = asyncio.Event()

    def _classify(self, message: aiomqtt.Message, received_at: datetime) -> Accepted | Rejected:
        payload = message.payload
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        ingest = self.config.ingest
        return classify(
            str(message.topic),
            data,
            received_at,
            max_payload_bytes=ingest.max_payload_bytes,
            max_future_s=ingest.max_future_s,
            keep_bytes=ingest.dead_letter_payload_bytes,
        )

    async def _commit(self, accepted: Sequence[Accepted], dead: Sequence[Rejected]) -> BatchResult:
        async with self.pool.connection() as conn, conn.transaction():
            return await store_batch(conn, accepted, dead, self.sensors, self.partitions)

    async def _commit_one_by_one(
        self, accepted: Sequence[Accepted], dead: Sequence[Rejected], error: psycopg.Error
    ) -> BatchResult:
        """The database refused the batch for its content: find the culprit(s)."""
        log.warning("database refused a batch (%s); storing it message by message", error)
        total = BatchResult()
        refused: list[Rejected] = list(dead)
        for item in accepted:
            try:
                result = await self._commit([item], [])
            except psycopg.OperationalError:
                raise
            except psycopg.Error as one:
                self.sensors.ids.clear()  # a rolled-back registration must be looked up again
                reason = " ".join(str(one).split())[:400]
                e = item.message.envelope
                refused.append(
                    Rejected(
                        f"noisefleet/v1/{e.site}/{e.sensor}/{item.message.KIND}",
                        f"database refused the message: {reason}",
                        "",
                        0,
                    )
                )
                continue
            total.new_messages += result.new_messages
            total.duplicate_messages += result.duplicate_messages
            total.level_records += result.level_records
            total.came_online += result.came_online
        result = await self._commit([], refused)
        total.dead_letters = result.dead_letters
        return total

    async def store(
        self, batch: list[tuple[aiomqtt.Message, datetime]], stop: asyncio.Event
    ) -> BatchResult | None:
        """Store a batch, retrying while the database is down; None if stopped meanwhile."""
        classified = [self._classify(m, at) for m, at in batch]
        accepted = [c for c in classified if isinstance(c, Accepted)]
        dead = [c for c in classified if isinstance(c, Rejected)]
        backoff = Backoff(max_s=self.config.mqtt.reconnect_max_s)
        while True:
            try:
                try:
                    return await self._commit(accepted, dead)
                except psycopg.OperationalError:
                    raise
                except psycopg.Error as error:
                    self.sensors.ids.clear()
                    return await self._commit_one_by_one(accepted, dead, error)
            except (psycopg.OperationalError, PoolTimeout) as error:
                self.sensors.ids.clear()
                self.counters.database_retries += 1
                delay = backoff.delay()
                log.warning(
                    "database unavailable (%s); %d message(s) kept unacknowledged, retry in %.1f s",
                    " ".join(str(error).split())[:200],
                    len(batch),
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return None

    def _count(self, result: BatchResult, size: int) -> None:
        c = self.counters
        c.batches += 1
        c.received += size
        c.stored += result.new_messages
        c.duplicates += result.duplicate_messages
        c.dead_letters += result.dead_letters
        c.level_records += result.level_records

    async def _next_batch(
        self,
        messages: aiomqtt.client.MessagesIterator,
        pending: list[asyncio.Future[aiomqtt.Message]],
        stopping: asyncio.Future[Any],
        first_wait_s: float | None = None,
    ) -> list[tuple[aiomqtt.Message, datetime]]:
        """Up to ``batch_max_messages``, at most ``batch_max_wait_s`` after the first one.

        A read that is still waiting when the batch closes is kept (in ``pending``) for the
        next batch, never cancelled: cancelling it could drop a message it already took."""
        ingest = self.config.ingest
        loop = asyncio.get_running_loop()
        batch: list[tuple[aiomqtt.Message, datetime]] = []
        deadline = None if first_wait_s is None else loop.time() + first_wait_s
        while len(batch) < ingest.batch_max_messages and not stopping.done():
            if not pending:
                pending.append(asyncio.ensure_future(messages.__anext__()))
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait(
                {pending[0], stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if pending[0] not in done:
                break  # the batch is due (or we stop); the read stays pending
            message = pending.pop().result()  # raises MqttError when disconnected
            batch.append((message, datetime.now(UTC)))
            if len(batch) == 1:
                deadline = loop.time() + ingest.batch_max_wait_s
        return batch

    async def _leave(self, client: aiomqtt.Client, topics: list[str], stop: asyncio.Event) -> bool:
        """Unsubscribe, then store and acknowledge what the broker had already sent us; False
        when the database could not take it (the session must then stay)."""
        for name in topics:
            await client.unsubscribe(name)
        quiet = asyncio.get_running_loop().create_future()  # never done: no stop signal
        pending: list[asyncio.Future[aiomqtt.Message]] = []
        try:
            while True:
                batch = await self._next_batch(client.messages, pending, quiet, first_wait_s=1.0)
                if not batch:
                    return True
                result = await self.store(batch, stop)
                if result is None:
                    return False
                for message, _ in batch:
                    ack(client, message)
                self._count(result, len(batch))
        finally:
            for read in pending:
                read.cancel()

    async def _end_session(self, client_id: str) -> None:
        """Connect once with a clean start and no expiry: the broker drops the session."""
        settings = self.config.mqtt
        async with make_client(settings, client_id=client_id, persistent=False, manual_ack=False):
            pass
        log.info("ingest left: session %s ended", client_id)

    async def _consume(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        pending: list[asyncio.Future[aiomqtt.Message]] = []
        try:
            while not stop.is_set():
                batch = await self._next_batch(client.messages, pending, stopping)
                if not batch:
                    continue
                result = await self.store(batch, stop)
                if result is None:
                    return  # stopped while the database was down: the broker keeps them
                for message, _ in batch:
                    ack(client, message)
                self._count(result, len(batch))
                if result.came_online:
                    await resend_desired_settings(self.pool, client, result.came_online)
        finally:
            stopping.cancel()
            for read in pending:  # unacknowledged: the broker sends it again
                read.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, reconnecting to the broker as needed."""
        settings = self.config.mqtt
        client_id = settings.client_id or default_client_id()
        backoff = Backoff(max_s=settings.reconnect_max_s)
        while not stop.is_set():
            try:
                client = make_client(
                    settings, client_id=client_id, persistent=True, manual_ack=True
                )
                topics = [shared_subscription(settings.share_group, k) for k in DATA_KINDS]
                async with client:
                    for name in topics:
                        await client.subscribe(name, qos=1)
                    log.info("ingest connected to the broker as %s", client_id)
                    self.connected.set()
                    backoff.reset()
                    await self._consume(client, stop)
                    left = stop.is_set() and settings.leave_on_stop
                    if left:
                        left = await self._leave(client, topics, stop)
                if left:
                    await self._end_session(client_id)
            except aiomqtt.MqttError as error:
                self.connected.clear()
                self.counters.broker_reconnects += 1
                delay = backoff.delay()
                log.warning(
                    "broker unavailable (%s); reconnecting in %.1f s",
                    " ".join(str(error).split())[:200],
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        self.connected.clear()
