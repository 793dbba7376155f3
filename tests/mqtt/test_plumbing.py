"""The shared MQTT plumbing: back-off, one-line errors, CONNECT properties, TLS, manual acks
(the publisher and the acknowledgements are exercised against a real broker by the edge link
and server ingest tests)."""

from __future__ import annotations

import ssl
import subprocess
import sys

import pytest

from noisefleet_mqtt import backoff_delay, client_tls_context, connect_properties, one_line


def test_backoff_doubles_with_jitter_up_to_its_ceiling() -> None:
    assert backoff_delay(0, 0.5, 30.0, 0.0) == 0.25
    assert backoff_delay(3, 0.5, 30.0, 1.0) == 4.0
    assert backoff_delay(100, 0.5, 30.0, 1.0) == 30.0


def test_one_line_folds_and_bounds_error_text() -> None:
    assert one_line(ValueError("a\n  b\tc")) == "a b c"
    assert one_line(RuntimeError()) == "RuntimeError"
    assert len(one_line(ValueError("x" * 1000))) == 300


def test_connect_properties_of_a_persistent_session() -> None:
    properties = connect_properties(3600, receive_maximum=100, maximum_packet_size=1 << 20)
    assert properties.SessionExpiryInterval == 3600
    assert properties.ReceiveMaximum == 100
    assert properties.MaximumPacketSize == 1 << 20


def test_tls_context_checks_hosts_unless_insecure() -> None:
    assert client_tls_context().check_hostname is True
    insecure = client_tls_context(insecure=True)
    assert insecure.verify_mode == ssl.CERT_NONE
    with pytest.raises(FileNotFoundError, match="No such file"):
        client_tls_context(ca_file="/nonexistent/ca.crt")


def test_the_plumbing_imports_no_numpy_and_no_edge() -> None:
    code = (
        "import sys, noisefleet_mqtt; "
        "print(sorted(m for m in ('numpy', 'noisefleet_edge', 'noisefleet_server', "
        "'ai_edge_litert', 'sounddevice', 'psycopg') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _lost(code: int) -> Exception:
    from aiomqtt.exceptions import MqttCodeError, MqttError
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    try:
        try:
            raise MqttCodeError(ReasonCode(PacketTypes.DISCONNECT, identifier=code), "x")
        except MqttCodeError as cause:
            raise MqttError("Disconnected during message iteration") from cause
    except MqttError as error:
        return error


def test_a_lost_connection_is_described_without_aiomqtt_internals() -> None:
    from noisefleet_mqtt import describe_loss, disconnect_code

    taken = _lost(0x8E)
    assert disconnect_code(taken) == 0x8E
    assert "took the session over" in describe_loss(taken)
    other = describe_loss(_lost(0x8B))  # server shutting down
    assert other.startswith("the broker disconnected (")
    assert "message iteration" not in other
    assert describe_loss(ValueError("plain")) == "plain"
