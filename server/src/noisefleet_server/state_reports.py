"""The agents' ``state`` reports, stored as the answers of the commands we sent.

Steps of ``StateListener.run`` (a task of ``noisefleet-server run``):
1. connect a clean-session client and subscribe to every sensor's retained ``state`` topic at
   QoS 1 (the retained reports arrive first, so answers given while we were away are not lost);
2. for each report, ``ingest_state``: decode it (a malformed one is logged and skipped: it is
   retained by the broker, not ours to dead-letter) and ``registry.record_answer`` it — the
   sensor's reported settings, and the command it answers turns ``applied`` or ``refused``;
3. broker or database down: reconnect with back-off; stop: disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiomqtt
import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from noisefleet_core.contract.commands import StateReport, decode_command
from noisefleet_core.contract.fields import ContractError
from noisefleet_core.contract.topics import parse_topic, subscription
from noisefleet_server import registry
from noisefleet_server.config import MqttSettings
from noisefleet_server.errors import CommandError
from noisefleet_server.ingest.service import Backoff
from noisefleet_server.mqtt import default_client_id, make_client

log = logging.getLogger("noisefleet.state")


async def ingest_state(conn: AsyncConnection, topic_text: str, payload: bytes) -> bool:
    """Store one ``state`` report; True when it answered a pending command.
    ``CommandError`` (one line) for a payload that is not a state report."""
    try:
        report = decode_command(topic_text, payload)
        parts = parse_topic(topic_text)
    except ContractError as error:
        raise CommandError(f"{topic_text}: {error}") from None
    if not isinstance(report, StateReport):
        raise CommandError(f"{topic_text}: not a state report")
    return await registry.record_answer(conn, parts.site, parts.sensor, report)


class StateListener:
    """Records every agent's state reports (see the module docstring)."""

    def __init__(self, settings: MqttSettings, pool: AsyncConnectionPool) -> None:
        self.settings = settings
        self.pool = pool
        self.recorded = 0
        self.backoff = Backoff(max_s=settings.reconnect_max_s)

    async def _session(self) -> None:
        client_id = default_client_id("state")
        async with make_client(
            self.settings, client_id=client_id, persistent=False, manual_ack=False
        ) as client:
            await client.subscribe(subscription("state"), qos=1)
            self.backoff.reset()
            async for message in client.messages:
                payload = message.payload
                if not isinstance(payload, bytes) or not payload:
                    continue  # a cleared retained message
                async with self.pool.connection() as conn:
                    try:
                        await ingest_state(conn, str(message.topic), payload)
                    except CommandError as error:
                        log.warning("state report skipped: %s", error)
                        continue
                self.recorded += 1

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            session = asyncio.ensure_future(self._session())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({session, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                session.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await session
                return
            stopping.cancel()
            error = session.exception()
            if error is not None and not isinstance(
                error, aiomqtt.MqttError | psycopg.OperationalError | PoolTimeout
            ):
                raise error
            delay = self.backoff.delay()
            log.warning("state reports: %s; retry in %.1f s", error or "disconnected", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
