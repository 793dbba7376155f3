"""How a sensor's MQTT link is configured and what it reports: settings, counters, errors.

Split from ``mqtt_link`` so the agent's configuration code and the tests can use these without
the connection machinery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from noisefleet_edge.errors import NoisefleetEdgeError

CommandHandler = Callable[[str, bytes], Awaitable[None]]

AUTH_CODES = {4, 5, 0x86, 0x87, 0x8A, 0x8C}
"""CONNACK codes for refused credentials (MQTT 3.1.1: 4, 5; MQTT 5: bad user name or
password, not authorised, banned, bad authentication method)."""


def device_username(site: str, sensor: str) -> str:
    """The broker user (and client id) of a sensor: ``SITE.SENSOR`` (ids never contain ``.``);
    ``deploy/mosquitto/add-device.sh`` writes the same name."""
    return f"{site}.{sensor}"


@dataclass(frozen=True)
class LinkSettings:
    """How one sensor reaches the broker."""

    host: str
    """Broker host name or address."""
    client_id: str
    """MQTT client id; the broker keeps the persistent session under it (one per sensor)."""
    port: int = 8883
    """Broker port (8883 for TLS, 1883 plain)."""
    username: str | None = None
    """Broker user (``SITE.SENSOR`` by convention)."""
    password: str | None = field(default=None, repr=False)
    """Broker password; never logged."""
    tls: bool = True
    """Connect with TLS (system CAs unless ``ca_file``)."""
    ca_file: Path | None = None
    """CA certificate(s) that signed the broker's certificate."""
    cert_file: Path | None = None
    """Client certificate, when the broker requires one."""
    key_file: Path | None = None
    """The client certificate's private key."""
    insecure: bool = False
    """Skip certificate and host name verification. For tests only."""
    keepalive_s: int = 30
    """MQTT keepalive; a dead connection is noticed after about 1.5 times this."""
    backoff_min_s: float = 1.0
    """First reconnect delay; doubles per failed attempt (with jitter)."""
    backoff_max_s: float = 60.0
    """Longest reconnect delay."""
    auth_retry_s: float = 300.0
    """Reconnect delay after refused credentials (an operator has to act first)."""
    connect_timeout_s: float = 10.0
    """Longest wait for the broker's CONNACK."""
    ack_timeout_s: float = 10.0
    """Longest wait for a status, state or subscription acknowledgement and the DISCONNECT."""
    max_in_flight: int = 16
    """QoS 1 publishes outstanding (sent, PUBACK pending) at a time."""
    protocol: Literal["5", "3.1.1"] = "5"
    """MQTT version; "3.1.1" for brokers without MQTT 5 (refusals are then invisible)."""
    session_expiry_s: int = 7 * 86400
    """How long the broker keeps the session (and commands for it) while the sensor is away."""
    drain_timeout_s: float = 5.0
    """At stop, the longest time spent sending what is still enqueued."""
    hold_unrouted: bool = True
    """A PUBACK 0x10 (no matching subscribers) keeps the message for a later retry: mosquitto
    forgets the server's shared subscriptions when it restarts, until the server subscribes
    again, and acknowledges what nobody receives."""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"mqtt port {self.port} is not in 1..65535")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self.max_in_flight}")
        if not 0 < self.backoff_min_s <= self.backoff_max_s:
            raise ValueError("backoff_min_s must be positive and at most backoff_max_s")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both or neither")


@dataclass
class LinkStats:
    """Counters of one link (for the heartbeat and the logs)."""

    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    """Connections lost (not counting the clean disconnect at stop)."""
    published: int = 0
    """Outbox messages acknowledged by the broker."""
    replayed: int = 0
    """Of those, sent from a backlog with ``replayed: true``."""
    refused: int = 0
    """Outbox messages dead-lettered (refused by the broker, or undecodable for a replay)."""
    last_error: str | None = None


class LinkError(NoisefleetEdgeError):
    """A problem of the link (one line); ``run`` logs these and retries."""


class ConnectFailedError(LinkError):
    """No connection: unreachable broker, refused credentials, TLS failure or timeout."""

    def __init__(self, message: str, auth: bool = False) -> None:
        super().__init__(message)
        self.auth = auth


class ConnectionLostError(LinkError):
    """An established connection broke."""
