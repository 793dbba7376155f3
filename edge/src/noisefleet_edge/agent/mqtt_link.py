"""One sensor's MQTT link: sends its outbox to the broker and hands its commands to the agent.

Each sensor connects with its own credentials and its own Last Will. ``SensorLink.run``:

1. connects (MQTT 5, persistent session; Will = retained QoS 1 ``status`` ``offline``);
   an unreachable broker, refused credentials or a TLS failure is one log line, then a retry
   after an exponential back-off with jitter (slower for refused credentials);
2. publishes the retained ``status`` ``online`` (``degraded`` with a reason while the sensor
   cannot measure, ``set_health``; re-published when that changes), subscribes (QoS 1) to
   ``set`` and ``model`` and queues every command for ``on_command``; re-publishes a ``state``
   not yet acknowledged;
3. drains the outbox oldest first with QoS 1, up to ``max_in_flight`` publishes outstanding; a row
   is deleted only after its PUBACK, and rows are marked in id order. Rows that waited for the
   connection (a backlog: rows of an earlier run, or everything queued when a connection comes
   back after an outage or a failed attempt) are re-encoded with ``replayed: true``; rows this
   run wrote before its first, immediately successful connection are current. A PUBACK
   reason code >= 0x80 (MQTT 5: e.g. 0x87 not authorised) is a permanent refusal: logged, counted
   and dead-lettered, so a refused row is never taken as sent. A PUBACK 0x10 (no matching
   subscribers: delivered to nobody, e.g. while a restarted broker has not yet seen the
   server subscribe again) keeps the row and retries after a back-off (``hold_unrouted``);
4. on a lost connection: one log line, back off, reconnect (unsent rows stay in the outbox);
5. when ``stop`` is set: sends what is enqueued (at most ``drain_timeout_s``), publishes the
   retained ``status`` ``stopped`` and disconnects cleanly (so the broker does not send the Will).

Status messages carry the sequence number of the sensor's latest data message; they use none
(the Last Will's is the one at CONNECT time: it cannot change afterwards).
Foreign exceptions (aiomqtt, paho, ssl, OSError) stop here: ``run`` only ever raises
``CancelledError`` (or a bug).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import ssl
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Literal, cast

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode

from noisefleet_core.contract.messages import (
    ContractError,
    StatusMessage,
    StatusState,
    decode,
    encode,
    make_envelope,
    mark_replayed,
)
from noisefleet_core.contract.topics import topic
from noisefleet_edge.agent.link_settings import (
    AUTH_CODES,
    CommandHandler,
    ConnectFailedError,
    ConnectionLostError,
    LinkError,
    LinkSettings,
    LinkStats,
    device_username,
)
from noisefleet_edge.agent.outbox import Outbox, OutboxEntry, OutboxError
from noisefleet_mqtt import (
    NO_MATCHING_SUBSCRIBERS,
    TRANSIENT_PUBACK_CODES,
    AckedPublisher,
    backoff_delay,
    client_tls_context,
    connect_properties,
    describe_loss,
    one_line,
)

SHORT_SESSION_S = 5.0
SHORT_SESSIONS_TO_WARN = 3
"""A connection the broker drops within ``SHORT_SESSION_S`` of its start, this many times in a
row, is most likely fought over by two clients with one id (mosquitto 2.0 just closes the older
connection): said once, plainly, in the log."""

MAX_INCOMING_BYTES = 64 * 1024 * 1024
"""The largest packet the broker may send us (MQTT 5 Maximum Packet Size), bounding what one
command can cost in memory. Commands above their own limits (``COMMAND_MAX_BYTES``, checked
before parsing) but below this are refused with a one-line reason on ``state``; larger ones the
broker drops (the deploy broker's own limit is 32 MiB)."""

__all__ = [
    "CommandHandler",
    "ConnectFailedError",
    "ConnectionLostError",
    "LinkError",
    "LinkSettings",
    "LinkStats",
    "SensorLink",
    "backoff_delay",
    "device_username",
]

log = logging.getLogger(__name__)


class SensorLink:
    """The MQTT connection of one sensor (see the module docstring)."""

    def __init__(
        self,
        settings: LinkSettings,
        site: str,
        sensor: str,
        outbox: Outbox,
        on_command: CommandHandler | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.site = site
        self.sensor = sensor
        self._outbox = outbox
        self._on_command = on_command
        self._clock = clock
        self._name = f"{site}/{sensor}"
        self._stats = LinkStats()
        self._wake = asyncio.Event()
        self._problem: str | None = None
        self._status_reason: str | None = None
        """The reason of the status last published on this connection (None: online)."""
        self._more = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._commands: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._publisher: AckedPublisher | None = None
        self._state: bytes | None = None
        self._random = random.Random()
        self._earlier_runs_until = 0
        self._fresh = True

    @property
    def stats(self) -> LinkStats:
        """A snapshot of the counters."""
        return dataclasses.replace(self._stats)

    def notify(self) -> None:
        """New rows are in the outbox: send them now. Callable from any thread."""
        self._more = True
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(self._wake.set)

    def set_health(self, problem: str | None) -> None:
        """The sensor's measuring problem (None: it measures). Published as the retained status
        ``degraded`` with the problem as its reason, or ``online`` once it measures again, so
        the server can alert on a dead source. Callable from any thread."""
        self._problem = problem
        self.notify()

    async def publish_state(self, payload: bytes) -> bool:
        """Publish ``payload`` retained (QoS 1) on the sensor's ``state`` topic. True once
        acknowledged; when not connected (or refused) it is kept and re-sent at the next
        connection, and False is returned. Only the newest state is kept."""
        self._state = payload
        publisher = self._publisher
        if publisher is None:
            return False
        try:
            return await self._send_state(publisher)
        except (LinkError, TimeoutError):
            return False

    # -- the connection loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the link up until ``stop`` is set (see the module docstring)."""
        self._loop = asyncio.get_running_loop()
        # Rows left by an earlier run are a backlog whenever this run first connects.
        self._earlier_runs_until = await asyncio.to_thread(self._outbox.newest_id, self.sensor)
        self._fresh = True
        attempt = 0
        async with asyncio.TaskGroup() as group:
            handler = group.create_task(self._handle_commands())
            waker = group.create_task(self._wake_on(stop))
            short_lived = 0
            try:
                while not stop.is_set():
                    connects_before = self._stats.connects
                    began = self._loop.time()
                    try:
                        await self._session(stop)
                        break
                    except LinkError as error:
                        message = str(error)
                        self._fresh = False  # from now on, what waits is a backlog
                        if self._stats.connects > connects_before:
                            attempt = 0
                            self._stats.disconnects += 1
                            message = f"connection lost ({message})"
                            lasted = self._loop.time() - began
                            short_lived = short_lived + 1 if lasted < SHORT_SESSION_S else 0
                            if short_lived == SHORT_SESSIONS_TO_WARN:
                                log.error(
                                    "%s: the broker dropped this connection right after each of"
                                    " the last %d connects: another process may be connected"
                                    " with the same client id %s (a cloned SD card, a second"
                                    " agent?), or the broker keeps refusing it",
                                    self._name,
                                    short_lived,
                                    self.settings.client_id,
                                )
                        auth = isinstance(error, ConnectFailedError) and error.auth
                        delay = self._delay(attempt, auth)
                        attempt += 1
                        self._note(f"{message}; reconnecting in {delay:.1f} s")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
            finally:
                handler.cancel()
                waker.cancel()
        left = await asyncio.to_thread(self._outbox.depth, self.sensor)
        log.info("%s: link stopped (%d messages left in the outbox)", self._name, left)

    def _delay(self, attempt: int, auth: bool = False) -> float:
        s = self.settings
        delay = backoff_delay(attempt, s.backoff_min_s, s.backoff_max_s, self._random.random())
        return max(delay, s.auth_retry_s) if auth else delay

    def _note(self, message: str) -> None:
        self._stats.last_error = message
        log.warning("%s: %s", self._name, message)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def _session(self, stop: asyncio.Event) -> None:
        """One connection, from CONNECT to DISCONNECT (or its loss)."""
        tls_context = await self._tls_context()
        will = await asyncio.to_thread(self._status_payload, "offline", "connection lost")
        client = self._client(tls_context, will)
        publisher = AckedPublisher(client, ConnectionLostError)
        try:
            async with contextlib.AsyncExitStack() as stack:
                await self._connect(stack, client)
                self._stats.connected = True
                self._stats.connects += 1
                log.info("%s: connected to %s", self._name, self._where)
                try:
                    await self._serve(client, publisher, stop)
                finally:
                    self._stats.connected = False
                    self._publisher = None
        except aiomqtt.MqttError as error:
            raise ConnectionLostError(one_line(error)) from None

    async def _connect(self, stack: contextlib.AsyncExitStack, client: aiomqtt.Client) -> None:
        try:
            async with asyncio.timeout(self.settings.connect_timeout_s):
                await stack.enter_async_context(client)
        except TimeoutError:
            raise ConnectFailedError(
                f"no answer from the broker at {self._where} within "
                f"{self.settings.connect_timeout_s:g} s"
            ) from None
        except aiomqtt.MqttError as error:
            raise self._connect_failure(error) from None

    async def _serve(
        self, client: aiomqtt.Client, publisher: AckedPublisher, stop: asyncio.Event
    ) -> None:
        # The backlog: what waited for this connection. On a first connection that came up
        # at once, rows this run just wrote are current, not replayed; after an outage (a lost
        # connection or a failed attempt) everything already queued is.
        if self._fresh:
            backlog_until = self._earlier_runs_until
        else:
            backlog_until = await asyncio.to_thread(self._outbox.newest_id, self.sensor)
        self._fresh = False
        try:
            async with asyncio.TaskGroup() as group:
                receiver = group.create_task(self._receive(client))
                await self._publish_health(publisher)
                if self._on_command is not None:
                    await self._subscribe(client)
                self._publisher = publisher
                if self._state is not None:
                    await self._send_state(publisher)
                await self._drain(publisher, stop, backlog_until)
                self._publisher = None
                await self._publish_status(publisher, "stopped")
                receiver.cancel()
        except* (aiomqtt.MqttError, LinkError, TimeoutError) as group:
            raise ConnectionLostError(describe_loss(group.exceptions[0])) from None

    # -- publishing ------------------------------------------------------------------------------

    async def _drain(
        self, publisher: AckedPublisher, stop: asyncio.Event, backlog_until: int
    ) -> None:
        """Send the outbox, oldest first, ``max_in_flight`` at a time; until ``stop`` and then
        until empty (at most ``drain_timeout_s``)."""
        loop = asyncio.get_running_loop()
        window: deque[tuple[OutboxEntry, asyncio.Task[str | None]]] = deque()
        after_id = 0
        deadline: float | None = None
        self._more = True
        try:
            while True:
                self._wake.clear()
                if self._problem != self._status_reason and not stop.is_set():
                    await self._publish_health(publisher)
                if deadline is None and stop.is_set():
                    deadline = loop.time() + self.settings.drain_timeout_s
                    self._more = True
                await self._settle(window)
                free = self.settings.max_in_flight - len(window)
                if free > 0 and self._more:
                    self._more = False
                    rows = await asyncio.to_thread(
                        self._outbox.pending, self.sensor, free, after_id
                    )
                    self._more = self._more or len(rows) == free
                    for row in rows:
                        replay = row.id <= backlog_until
                        task = asyncio.create_task(self._send(publisher, row, replay))
                        task.add_done_callback(self._sent)
                        window.append((row, task))
                        after_id = row.id
                if deadline is None:
                    await self._wake.wait()
                    continue
                if not window and not self._more:
                    return
                remaining = deadline - loop.time()
                if remaining <= 0:
                    left = await asyncio.to_thread(self._outbox.depth, self.sensor)
                    log.warning(
                        "%s: drain_timeout_s (%g s) reached with %d messages unsent; they are "
                        "sent at the next start",
                        self._name,
                        self.settings.drain_timeout_s,
                        left,
                    )
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
        finally:
            for _, task in window:
                task.cancel()

    def _sent(self, task: asyncio.Task[str | None]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved here, re-raised by _settle in order
        self._wake.set()

    async def _settle(self, window: deque[tuple[OutboxEntry, asyncio.Task[str | None]]]) -> None:
        """Delete the finished head of the window, in id order: acknowledged rows as sent,
        refused ones as dead letters. A broken connection propagates from here."""
        sent: list[int] = []
        refused: list[tuple[OutboxEntry, str]] = []
        while window and window[0][1].done():
            row, task = window.popleft()
            refusal = task.result()
            if refusal is None:
                sent.append(row.id)
            else:
                refused.append((row, refusal))
        if sent:
            try:
                await asyncio.to_thread(self._outbox.mark_sent, sent)
            except OutboxError as error:  # e.g. a full disk: the rows stay, sent again later
                log.warning(
                    "%s: cannot mark %d sent message(s) in the outbox (%s); they are sent again"
                    " after the next reconnect and the server drops the copies",
                    self._name,
                    len(sent),
                    one_line(error),
                )
        for row, reason in refused:
            self._stats.refused += 1
            log.error(
                "%s: message %d (sequence %d on %s) dead-lettered: %s",
                self._name,
                row.id,
                row.sequence,
                row.topic,
                reason,
            )
            await asyncio.to_thread(self._outbox.dead_letter, [row.id], reason)

    async def _send(self, publisher: AckedPublisher, row: OutboxEntry, replay: bool) -> str | None:
        """Publish one row; None once acknowledged, else why it can never be delivered."""
        payload = row.payload
        if replay:
            try:
                payload = encode(mark_replayed(decode(row.topic, row.payload)))
            except ContractError as error:
                return f"not a valid message any more ({error})"
        code = await publisher.publish(row.topic, payload, retain=False)
        if code.value == NO_MATCHING_SUBSCRIBERS and self.settings.hold_unrouted:
            raise ConnectionLostError(
                "no subscriber took a message (PUBACK 0x10: the server is not subscribed); "
                "it stays in the outbox and is sent again"
            )
        if code.is_failure:
            if code.value in TRANSIENT_PUBACK_CODES:
                raise ConnectionLostError(f"the broker deferred a message ({code})")
            return f"refused by the broker ({code}, 0x{code.value:02X})"
        self._stats.published += 1
        self._stats.replayed += replay
        return None

    async def _publish_health(self, publisher: AckedPublisher) -> None:
        problem = self._problem
        await self._publish_status(publisher, "online" if problem is None else "degraded", problem)
        self._status_reason = problem

    async def _publish_status(
        self, publisher: AckedPublisher, state: StatusState, reason: str | None = None
    ) -> None:
        payload = await asyncio.to_thread(self._status_payload, state, reason)
        async with asyncio.timeout(self.settings.ack_timeout_s):
            code = await publisher.publish(self._topic("status"), payload, retain=True)
        if code.is_failure:
            log.error("%s: the broker refused the %s status (%s)", self._name, state, code)

    async def _send_state(self, publisher: AckedPublisher) -> bool:
        payload = self._state
        if payload is None:
            return True
        async with asyncio.timeout(self.settings.ack_timeout_s):
            code = await publisher.publish(self._topic("state"), payload, retain=True)
        if code.is_failure:
            log.error("%s: the broker refused the state message (%s)", self._name, code)
            return False
        if self._state is payload:
            self._state = None
        return True

    def _status_payload(self, state: StatusState, reason: str | None) -> bytes:
        sequence = self._outbox.last_sequence(self.sensor)
        envelope = make_envelope(self.site, self.sensor, sequence, self._clock(), uuid.uuid4())
        return encode(StatusMessage(envelope, state, reason))

    # -- commands --------------------------------------------------------------------------------

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        wanted = [self._topic("set"), self._topic("model")]
        codes = await client.subscribe([(name, 1) for name in wanted])
        for name, code in zip(wanted, codes, strict=False):
            value = code.value if isinstance(code, ReasonCode) else int(cast(int, code))
            if value >= 0x80:
                log.error("%s: the broker refused the subscription to %s", self._name, name)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            kind = message.topic.value.rsplit("/", 1)[-1]
            if kind not in ("set", "model"):
                continue
            body = message.payload
            if isinstance(body, bytes | bytearray):
                payload = bytes(body)
            else:
                payload = b"" if body is None else str(body).encode()
            self._commands.put_nowait((kind, payload))

    async def _handle_commands(self) -> None:
        while True:
            kind, payload = await self._commands.get()
            if self._on_command is None:
                continue
            try:
                await self._on_command(kind, payload)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error("%s: the %s command failed: %s", self._name, kind, one_line(error))

    # -- adapters --------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _topic(self, kind: Literal["status", "set", "state", "model"]) -> str:
        return topic(self.site, self.sensor, kind)

    def _client(self, tls_context: ssl.SSLContext | None, will: bytes) -> aiomqtt.Client:
        s = self.settings
        v5 = s.protocol == "5"
        properties = (
            connect_properties(s.session_expiry_s, maximum_packet_size=MAX_INCOMING_BYTES)
            if v5
            else None
        )
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            logger=log.getChild("paho"),
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            will=aiomqtt.Will(self._topic("status"), will, qos=1, retain=True),
            clean_session=None if v5 else False,
            clean_start=False if v5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
            keepalive=s.keepalive_s,
            timeout=s.ack_timeout_s,
            max_inflight_messages=s.max_in_flight,
            tls_context=tls_context,
        )

    async def _tls_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if not s.tls:
            return None

        def build() -> ssl.SSLContext:
            return client_tls_context(s.ca_file, s.cert_file, s.key_file, s.insecure)

        try:
            return await asyncio.to_thread(build)
        except (OSError, ssl.SSLError) as error:
            raise ConnectFailedError(
                f"cannot load the TLS files ({one_line(error)}): check ca_file, cert_file "
                "and key_file"
            ) from None

    def _connect_failure(self, error: aiomqtt.MqttError) -> ConnectFailedError:
        code = getattr(error, "rc", None)
        value = code.value if isinstance(code, ReasonCode) else code
        if isinstance(error, MqttConnectError) and value in AUTH_CODES:
            who = (
                f"user {self.settings.username!r}"
                if self.settings.username
                else "a connection without a username"
            )
            return ConnectFailedError(
                f"the broker at {self._where} refused {who} ({code}): check the sensor's "
                "username and password",
                auth=True,
            )
        if isinstance(error, MqttConnectError):
            return ConnectFailedError(
                f"the broker at {self._where} refused the connection ({code})"
            )
        text = one_line(error)
        if "ssl" in text.lower() or "certificate" in text.lower():
            return ConnectFailedError(
                f"TLS with the broker at {self._where} failed ({text}): check the CA, the "
                "client certificate and the host name"
            )
        return ConnectFailedError(f"cannot reach the broker at {self._where} ({text})")
