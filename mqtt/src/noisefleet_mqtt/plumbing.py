"""The MQTT plumbing under the edge's link and the server's ingest.

- ``AckedPublisher``: QoS 1 publishes that return the PUBACK's reason code (aiomqtt drops it);
- ``enable_manual_ack`` / ``ack``: acknowledge a received message only when the application
  has stored it (aiomqtt has no manual acknowledgement; paho underneath has);
- ``connect_properties``: the MQTT 5 CONNECT properties of a persistent session;
- ``client_tls_context`` and ``ClosingSSLSocket``: TLS that closes a socket whose handshake
  failed (paho 2.2 leaks it);
- ``backoff_delay``: exponential back-off with jitter; ``one_line``: error texts for logs.
aiomqtt keeps its paho client in ``client._client``: the one private attribute used, and the
reason both libraries are pinned to their major versions.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

SESSION_TAKEN_OVER = 0x8E
"""DISCONNECT code (MQTT 5): another client connected with the same client id."""
NO_MATCHING_SUBSCRIBERS = 0x10
"""PUBACK code (MQTT 5) of a message nobody was subscribed to: delivered to no one."""
TRANSIENT_PUBACK_CODES = {0x91, 0x97}
"""PUBACK codes worth a retry on a new connection: packet identifier in use, quota exceeded."""


class MqttPlumbingError(Exception):
    """Root of the errors raised here (one line)."""


class PublishFailedError(MqttPlumbingError):
    """paho could not send a publish: the connection is gone."""


def _paho(client: aiomqtt.Client) -> paho.Client:
    return client._client


class AckedPublisher:
    """QoS 1 publishes that return the PUBACK's reason code.

    aiomqtt 2.5's ``Client.publish`` waits for the PUBACK but discards its reason code
    (``Client._on_publish`` ignores ``reason_code``), and an MQTT 5 broker refuses a publish
    (0x87 not authorised by the ACL) or reports it delivered to nobody (0x10) only through that
    code. So this publishes through the paho client aiomqtt wraps and chains paho's
    ``on_publish`` callback, so aiomqtt's own handler still runs. ``lost`` is the exception
    raised when the connection is gone (the caller's own class)."""

    def __init__(
        self, client: aiomqtt.Client, lost: Callable[[str], Exception] = PublishFailedError
    ) -> None:
        self._paho = _paho(client)
        self._lost = lost
        self._waiting: dict[int, asyncio.Future[ReasonCode]] = {}
        chained = self._paho.on_publish

        def on_publish(
            paho_client: paho.Client, userdata: Any, mid: int, code: ReasonCode, props: Any
        ) -> None:
            future = self._waiting.pop(mid, None)
            if future is not None and not future.done():
                future.set_result(code)
            if chained is not None:
                cast(Callable[..., None], chained)(paho_client, userdata, mid, code, props)

        self._paho.on_publish = on_publish

    async def publish(self, topic_text: str, payload: bytes, retain: bool) -> ReasonCode:
        info = self._paho.publish(topic_text, payload, qos=1, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise self._lost(f"publish failed ({paho.error_string(info.rc)})")
        # paho reports PUBACKs from its socket callback on this loop's thread, never inside
        # publish(), so registering after the call cannot miss the acknowledgement.
        future: asyncio.Future[ReasonCode] = asyncio.get_running_loop().create_future()
        self._waiting[info.mid] = future
        try:
            return await future
        finally:
            self._waiting.pop(info.mid, None)


def enable_manual_ack(client: aiomqtt.Client) -> None:
    """Received QoS 1 messages are acknowledged only by ``ack`` (call before connecting)."""
    _paho(client).manual_ack_set(True)


def ack(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """Acknowledge one received message (QoS 1 or 2) now that it is stored."""
    if message.qos > 0:
        _paho(client).ack(message.mid, message.qos)


def connect_properties(
    session_expiry_s: int,
    receive_maximum: int | None = None,
    maximum_packet_size: int | None = None,
) -> Properties:
    """MQTT 5 CONNECT properties: how long the broker keeps the session, how many QoS 1
    messages it may have in flight to us, and the largest packet we accept."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        properties.ReceiveMaximum = receive_maximum
    if maximum_packet_size is not None:
        properties.MaximumPacketSize = maximum_packet_size
    return properties


class ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the TLS handshake fails: paho 2.2 drops the socket without closing
    it (a file descriptor leaked per failed attempt until garbage collection)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def client_tls_context(
    ca_file: Path | str | None = None,
    cert_file: Path | str | None = None,
    key_file: Path | str | None = None,
    insecure: bool = False,
) -> ssl.SSLContext:
    """A client TLS context (system CAs unless ``ca_file``; a client certificate when given;
    ``insecure`` skips host name checks, for tests) whose sockets close on a failed handshake."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if cert_file:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.sslsocket_class = ClosingSSLSocket
    return context


def backoff_delay(attempt: int, min_s: float, max_s: float, jitter: float) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): doubling from ``min_s`` up to
    ``max_s``, scaled by ``0.5 + jitter / 2`` (``jitter`` in [0, 1)) so that clients that lost
    the broker together do not come back in lockstep."""
    base = min(max_s, min_s * 2.0 ** min(attempt, 32))
    return base * (0.5 + jitter / 2.0)


def disconnect_code(error: BaseException) -> int | None:
    """The broker's reason code behind a lost connection, when it sent one: aiomqtt raises
    "Disconnected during message iteration" with the DISCONNECT's code in its cause."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        rc = getattr(current, "rc", None)
        if isinstance(rc, ReasonCode):
            return int(rc.value)
        if isinstance(rc, int) and not isinstance(rc, bool):
            return rc
        current = current.__cause__
    return None


def describe_loss(error: BaseException) -> str:
    """A lost connection as one line an operator can act on (not aiomqtt's internals)."""
    code = disconnect_code(error)
    if code == SESSION_TAKEN_OVER:
        return (
            "another client connected with this client id and took the session over: two "
            "processes use one identity (a cloned SD card, a second agent?)"
        )
    cause = error.__cause__
    if "during message iteration" in str(error) and cause is not None:
        return f"the broker disconnected ({one_line(cause)})"
    return one_line(error)


def one_line(error: BaseException) -> str:
    """An error as one log line of at most 300 characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
