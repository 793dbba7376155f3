"""The server's MQTT clients, built from ``MqttSettings`` on the shared plumbing
(``noisefleet_mqtt``): the ingest's (MQTT 5, persistent session, manual acknowledgements: a
message is acknowledged only after it is committed or dead-lettered) and short-lived ones for
commands and checks."""

from __future__ import annotations

import socket

import aiomqtt

from noisefleet_mqtt import ack, client_tls_context, connect_properties, enable_manual_ack
from noisefleet_server.config import MqttSettings, broker_address

__all__ = ["MAX_PACKET_BYTES", "ack", "default_client_id", "make_client"]

MAX_PACKET_BYTES = 16 * 1024 * 1024
"""The broker must not send us larger packets (bounds our memory; payloads over the ingest
limit, 1 MiB by default, are dead-lettered)."""


def default_client_id(suffix: str = "ingest") -> str:
    return f"noisefleet-{suffix}-{socket.gethostname()}"[:64]


def make_client(
    settings: MqttSettings, *, client_id: str, persistent: bool, manual_ack: bool
) -> aiomqtt.Client:
    """An aiomqtt client (not yet connected: use it in ``async with``)."""
    address = broker_address(settings)
    properties = connect_properties(
        settings.session_expiry_s if persistent else 0,
        receive_maximum=settings.receive_maximum,
        maximum_packet_size=MAX_PACKET_BYTES,
    )
    tls = (
        client_tls_context(
            settings.ca_file or None, settings.cert_file or None, settings.key_file or None
        )
        if address.tls
        else None
    )
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
        tls_context=tls,
        timeout=10,
    )
    if manual_ack:
        enable_manual_ack(client)
    return client
