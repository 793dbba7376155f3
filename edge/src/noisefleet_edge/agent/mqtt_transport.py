"""Two pieces of plumbing under ``mqtt_link``: QoS 1 publishes that return the broker's PUBACK
reason code, and TLS sockets that close themselves when the handshake fails."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any, cast

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from noisefleet_edge.agent.link_settings import ConnectionLostError


class AckedPublisher:
    """QoS 1 publishes that return the PUBACK's reason code.

    aiomqtt 2.5's ``Client.publish`` waits for the PUBACK but discards its reason code
    (``Client._on_publish`` ignores ``reason_code``), and an MQTT 5 broker refuses a publish
    (0x87 not authorised by the ACL) only through that code. So this publishes through the paho
    client aiomqtt wraps (``client._client``: the one private attribute used here) and chains
    paho's ``on_publish`` callback, so aiomqtt's own handler still runs."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self._paho: paho.Client = client._client
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
            raise ConnectionLostError(f"publish failed ({paho.error_string(info.rc)})")
        # paho reports PUBACKs from its socket callback on this loop's thread, never inside
        # publish(), so registering after the call cannot miss the acknowledgement.
        future: asyncio.Future[ReasonCode] = asyncio.get_running_loop().create_future()
        self._waiting[info.mid] = future
        try:
            return await future
        finally:
            self._waiting.pop(info.mid, None)


class ClosingSSLSocket(ssl.SSLSocket):
    """Closes itself when the TLS handshake fails: paho 2.2 drops the socket without closing
    it (a file descriptor leaked per failed attempt until garbage collection)."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
