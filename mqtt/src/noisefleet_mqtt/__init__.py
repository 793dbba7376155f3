"""MQTT plumbing shared by the edge agent and the server (see ``plumbing``)."""

from noisefleet_mqtt.plumbing import (
    NO_MATCHING_SUBSCRIBERS,
    TRANSIENT_PUBACK_CODES,
    AckedPublisher,
    ClosingSSLSocket,
    MqttPlumbingError,
    PublishFailedError,
    ack,
    backoff_delay,
    client_tls_context,
    connect_properties,
    describe_loss,
    disconnect_code,
    enable_manual_ack,
    one_line,
)

__all__ = [
    "NO_MATCHING_SUBSCRIBERS",
    "TRANSIENT_PUBACK_CODES",
    "AckedPublisher",
    "ClosingSSLSocket",
    "MqttPlumbingError",
    "PublishFailedError",
    "ack",
    "backoff_delay",
    "client_tls_context",
    "connect_properties",
    "describe_loss",
    "disconnect_code",
    "enable_manual_ack",
    "one_line",
]
