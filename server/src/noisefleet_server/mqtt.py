"""The server's MQTT plumbing: a client for the ingest (MQTT 5, persistent session, manual
acknowledgements) and for commands, built from ``MqttSettings``.

aiomqtt 2.5 has no manual acknowledgement; paho underneath does (``manual_ack_set``). The
ingest turns it on so a message is acknowledged only after it is committed or dead-lettered:
``ack(client, message)`` reaches paho through ``client._client``, the one private attribute
used here.
"""

from __future__ import annotations

import socket
import ssl

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from noisefleet_server.config import MqttSettings, broker_address

MAX_PACKET_BYTES = 16 * 1024 * 1024
"""The broker must not send us larger packets (bounds our memory; payloads over the ingest
limit, 1 MiB by default, are dead-lettered)."""


def default_client_id(suffix: str = "ingest") -> str:
    return f"noisefleet-{suffix}-{socket.gethostname()}"[:64]


def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    if settings.cert_file:
        context.load_cert_chain(settings.cert_file, settings.key_file or None)
    return context


def make_client(
    settings: MqttSettings, *, client_id: str, persistent: bool, manual_ack: bool
) -> aiomqtt.Client:
    """An aiomqtt client (not yet connected: use it in ``async with``)."""
    address = broker_address(settings)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = settings.session_expiry_s if persistent else 0
    properties.ReceiveMaximum = settings.receive_maximum
    properties.MaximumPacketSize = MAX_PACKET_BYTES
    client = aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=not persistent,
        keepalive=settings.keepalive_s,
        properties=properties,
        tls_context=tls_context(settings) if address.tls else None,
        timeout=10,
    )
    if manual_ack:
        client._client.manual_ack_set(True)
    return client


def ack(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """Acknowledge one received message (QoS 1) now that it is stored or dead-lettered."""
    if message.qos > 0:
        paho_client: paho.Client = client._client
        paho_client.ack(message.mid, message.qos)
