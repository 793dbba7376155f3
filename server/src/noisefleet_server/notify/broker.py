"""MQTT notifications: the worker's own publisher connection to the server's broker.

``MqttLink.run`` keeps one connection (clean session, its own client id) and reconnects with
back-off while the worker runs; ``publish`` sends one body with QoS 1 and decides by the
PUBACK's reason code (``noisefleet_mqtt.AckedPublisher``): success (0x10 "no matching
subscribers" included: the broker took it; subscribers that must not miss one keep a
persistent session) is delivered, 0x91/0x97 a retry, any other refusal (e.g. 0x87 not
authorised: the broker's ACL) a failure. No connection within ``timeout_s`` is a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

import aiomqtt

from noisefleet_mqtt import (
    NO_MATCHING_SUBSCRIBERS,
    TRANSIENT_PUBACK_CODES,
    AckedPublisher,
    PublishFailedError,
    describe_loss,
    one_line,
)
from noisefleet_server.config import MqttSettings
from noisefleet_server.ingest.service import Backoff
from noisefleet_server.mqtt import default_client_id, make_client
from noisefleet_server.notify.config import MqttNotifierSettings
from noisefleet_server.notify.deliver import Delivered, Failed, Outcome, Retry
from noisefleet_server.notify.queue_sql import Claimed

log = logging.getLogger("noisefleet.notify")


def notification_topic(settings: MqttNotifierSettings, claimed: Claimed) -> str:
    """``<topic_prefix>/<site>/<sensor>`` (``_`` for a part the notification lacks)."""
    return f"{settings.topic_prefix}/{claimed.site or '_'}/{claimed.sensor or '_'}"


class MqttLink:
    """One publisher connection (see the module docstring); no I/O until ``run``."""

    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.client_id = default_client_id(f"notify-{secrets.token_hex(4)}")
        self.reconnects = 0
        self._publisher: AckedPublisher | None = None
        self._ready = asyncio.Event()

    async def run(self, done: asyncio.Event) -> None:
        """Stay connected until ``done`` is set."""
        backoff = Backoff(max_s=self.settings.reconnect_max_s)
        while not done.is_set():
            try:
                client = make_client(
                    self.settings, client_id=self.client_id, persistent=False, manual_ack=False
                )
                async with client:
                    self._publisher = AckedPublisher(client)
                    self._ready.set()
                    backoff.reset()
                    await self._until_lost(client, done)
            except aiomqtt.MqttError as error:
                self.reconnects += 1
                delay = backoff.delay()
                log.warning(
                    "notifications: broker unavailable (%s); reconnecting in %.1f s",
                    describe_loss(error),
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), delay)
            finally:
                self._ready.clear()
                self._publisher = None

    async def _until_lost(self, client: aiomqtt.Client, done: asyncio.Event) -> None:
        # Nothing is subscribed: the message iterator only ever raises, when the connection
        # is lost (aiomqtt's way of reporting it).
        lost = asyncio.ensure_future(client.messages.__anext__())
        finishing = asyncio.ensure_future(done.wait())
        try:
            await asyncio.wait({lost, finishing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            finishing.cancel()
            lost.cancel()
        if lost.done() and not lost.cancelled():
            lost.result()  # raises the MqttError

    async def publish(self, settings: MqttNotifierSettings, claimed: Claimed) -> Outcome:
        topic = notification_topic(settings, claimed)
        try:
            async with asyncio.timeout(settings.timeout_s):
                await self._ready.wait()
                publisher = self._publisher
                if publisher is None:
                    return Retry("broker connection lost")
                code = await publisher.publish(topic, claimed.body.encode(), settings.retain)
        except TimeoutError:
            return Retry(f"broker: no PUBACK within {settings.timeout_s:g} s")
        except PublishFailedError as error:
            return Retry(f"broker: {one_line(error)}")
        value = int(code.value)
        if value < 0x80:
            note = "no subscribers on the topic" if value == NO_MATCHING_SUBSCRIBERS else None
            return Delivered(note)
        text = f"broker refused the publish to {topic}: {code} (0x{value:02x})"
        if value in TRANSIENT_PUBACK_CODES:
            return Retry(text)
        return Failed(f"{text}; check the broker's ACL for the server's user")
