"""The edge agent's configuration: one TOML file, validated once at start-up into frozen objects.

Steps of ``load_config``:
1. read and parse the TOML file (a missing file or a syntax error is one line);
2. check every table for unknown keys (a typo never silently falls back to a default) and every
   value for its type and range, naming the key in the message;
3. read secrets (MQTT passwords) from the environment or from files: never from the TOML
   itself, and never shown in ``repr`` or logs;
4. check each sensor's model folder and its tunable settings against the model's labels.
Any problem raises ``ConfigError`` with a message that tells the operator what to fix.

Example (``deploy/edge.toml`` is the documented template)::

    [agent]
    site = "harbour"
    state_dir = "/var/lib/noisefleet"

    [mqtt]
    host = "broker.example.org"
    port = 8883
    tls = { ca_file = "/etc/noisefleet/ca.crt" }

    [[sensors]]
    id = "quay-north"
    calibration_offset_db = 120.0
    calibration_date = 2026-10-02
    username = "harbour.quay-north"
    password_file = "/etc/noisefleet/quay-north.password"
    source = { type = "microphone", device = "hw:1", sample_rate_hz = 48000 }
    [sensors.settings]
    gate_level_db = 50
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from noisefleet_core.acoustics.calibration import offset_from_sensitivity
from noisefleet_core.contract.topics import TopicError, check_id
from noisefleet_core.models.manifest import ModelError, ModelManifest
from noisefleet_edge.agent.toml_table import ConfigError, Table, read_secret
from noisefleet_edge.agent.tuning import (
    SensorTuning,
    TuningError,
    model_thresholds,
    tuning_from_mapping,
)
from noisefleet_edge.classifier import default_model_dir, read_manifest

DEFAULT_STATE_DIR = Path("/var/lib/noisefleet")
MIB = 1 << 20


@dataclass(frozen=True)
class MicrophoneSourceConfig:
    """A sounddevice (PortAudio/ALSA) input on the gateway."""

    device: str | int | None = None
    """PortAudio device name or index (``noisefleet-edge levels --list-devices``); None: the
    default input."""
    sample_rate_hz: int = 48000
    channel: int = 0
    block_s: float = 0.1
    type: Literal["microphone"] = "microphone"


@dataclass(frozen=True)
class BridgeSourceConfig:
    """A microcontroller streaming PCM frames (``docs/mcu-bridge.md``)."""

    transport: Literal["udp", "tcp", "serial"]
    address: str
    """``host:port`` to listen on (udp, tcp) or a serial device path."""
    mcu_id: int
    """The id the microcontroller writes in its frames."""
    sample_rate_hz: int
    sample_format: str | None = None
    """``int16``, ``int32`` or ``float32``; None accepts any."""
    reorder_ms: float = 100.0
    baud: int = 921600
    type: Literal["bridge"] = "bridge"


@dataclass(frozen=True)
class FileSourceConfig:
    """A recording played back as a sensor (demos, tests, benchmarks)."""

    path: Path
    speed: float = 1.0
    """1.0: real time; 0: as fast as possible."""
    loop: bool = False
    channel: int = 0
    block_s: float = 0.1
    type: Literal["file"] = "file"


SourceConfig = MicrophoneSourceConfig | BridgeSourceConfig | FileSourceConfig


@dataclass(frozen=True)
class TlsConfig:
    ca_file: Path | None = None
    """CA bundle that signed the broker's certificate (None: the system's CAs)."""
    cert_file: Path | None = None
    """Client certificate (when the broker authenticates devices by certificate)."""
    key_file: Path | None = None
    insecure: bool = False
    """Skip host name verification (tests only)."""


@dataclass(frozen=True)
class MqttConfig:
    host: str = "localhost"
    port: int = 1883
    keepalive_s: int = 30
    protocol: Literal["5", "3.1.1"] = "5"
    tls: TlsConfig | None = None
    drain_timeout_s: float = 5.0
    """At shutdown, how long to keep sending what is queued before publishing ``stopped``."""
    hold_unrouted: bool = True
    """Keep a message the broker acknowledged with 0x10 (no matching subscribers: no server
    subscribed, e.g. right after a broker restart) and send it again later."""
    backoff_max_s: float = 60.0
    """Longest wait between reconnect attempts (the wait doubles from 1 s, with jitter)."""
    auth_retry_s: float = 300.0
    """Wait before retrying after the broker refused the sensor's credentials."""


@dataclass(frozen=True)
class SensorConfig:
    id: str
    source: SourceConfig
    model_dir: Path
    manifest: ModelManifest
    tuning: SensorTuning
    calibration_offset_db: float | None
    """dB SPL = dBFS + this; None: uncalibrated (levels in dBFS, no gate, no unknown events)."""
    calibration_date: dt.date | None
    username: str | None
    password: str | None = field(repr=False)
    client_cert_file: Path | None = None
    client_key_file: Path | None = None


@dataclass(frozen=True)
class AgentConfig:
    path: Path
    site: str
    state_dir: Path
    heartbeat_s: float
    outbox_max_bytes: int
    max_backlog_s: float
    mqtt: MqttConfig
    sensors: tuple[SensorConfig, ...]

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.sqlite"

    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"


def _source(table: Table, base: Path) -> SourceConfig:
    kind = table.required_string("type")
    if kind == "microphone":
        device_value = table.raw("device")
        if device_value is not None and (
            isinstance(device_value, bool) or not isinstance(device_value, str | int)
        ):
            raise ConfigError(f"{table.where}.device: must be a device name or index")
        source: SourceConfig = MicrophoneSourceConfig(
            device=device_value,
            sample_rate_hz=table.integer("sample_rate_hz", 48000, 8000, 384000) or 48000,
            channel=table.integer("channel", 0, 0, 63) or 0,
            block_s=table.number("block_s", 0.1, 0.01, 2.0) or 0.1,
        )
    elif kind in ("udp", "tcp", "serial"):
        mcu_id = table.integer("mcu_id", None, 0, 2**32 - 1)
        rate = table.integer("sample_rate_hz", None, 8000, 384000)
        if mcu_id is None or rate is None:
            raise ConfigError(f"{table.where}: a {kind} bridge needs mcu_id and sample_rate_hz")
        sample_format = table.string("sample_format")
        if sample_format not in (None, "int16", "int32", "float32"):
            raise ConfigError(
                f"{table.where}.sample_format: {sample_format!r} is not int16, int32 or float32"
            )
        source = BridgeSourceConfig(
            transport=kind,  # type: ignore[arg-type]
            address=table.required_string("device" if kind == "serial" else "listen"),
            mcu_id=mcu_id,
            sample_rate_hz=rate,
            sample_format=sample_format,
            reorder_ms=table.number("reorder_ms", 100.0, 0.0, 5000.0) or 0.0,
            baud=table.integer("baud", 921600, 50, 10_000_000) or 921600,
        )
    elif kind == "file":
        path = table.path("path", base, must_exist=True)
        if path is None:
            raise ConfigError(f"{table.where}.path: is required for a file source")
        source = FileSourceConfig(
            path=path,
            speed=table.number("speed", 1.0, 0.0, 1000.0) or 0.0,
            loop=table.boolean("loop", False),
            channel=table.integer("channel", 0, 0, 63) or 0,
            block_s=table.number("block_s", 0.1, 0.01, 10.0) or 0.1,
        )
    else:
        raise ConfigError(
            f"{table.where}.type: {kind!r} is not a source type; use microphone, udp, tcp, "
            "serial or file"
        )
    table.done()
    return source


def _model(table: Table, base: Path) -> tuple[Path, ModelManifest]:
    text = table.string("model")
    model_dir = default_model_dir() if text in (None, "default") else Path(str(text))
    if not model_dir.is_absolute():
        model_dir = base / model_dir
    try:
        manifest = read_manifest(model_dir)
    except ModelError as error:
        raise ConfigError(f"{table.where}.model: {error}") from None
    return model_dir, manifest


def _sensor(table: Table, base: Path) -> SensorConfig:
    sensor_id = table.required_string("id")
    try:
        check_id(sensor_id, "sensor id")
    except TopicError as error:
        raise ConfigError(f"{table.where}.id: {error}") from None
    table.where = f"sensors.{sensor_id}"
    source_table = table.table("source")
    if source_table is None:
        raise ConfigError(f"{table.where}.source: is required (microphone, udp, tcp, serial, file)")
    source = _source(source_table, base)
    offset = table.number("calibration_offset_db", None, -50.0, 250.0)
    sensitivity = table.number("sensitivity_dbfs", None, -120.0, 0.0)
    if offset is not None and sensitivity is not None:
        raise ConfigError(
            f"{table.where}: give calibration_offset_db or sensitivity_dbfs, not both"
        )
    if sensitivity is not None:
        offset = offset_from_sensitivity(sensitivity)
    date_value = table.raw("calibration_date")
    if date_value is not None and (
        not isinstance(date_value, dt.date) or isinstance(date_value, dt.datetime)
    ):
        raise ConfigError(
            f"{table.where}.calibration_date: must be a TOML date such as 2026-10-02 (no quotes)"
        )
    model_dir, manifest = _model(table, base)
    settings_table = table.table("settings")
    try:
        tuning = tuning_from_mapping(
            settings_table.data if settings_table else {},
            manifest.labels,
            model_thresholds=model_thresholds(manifest),
        )
    except TuningError as error:
        raise ConfigError(f"{table.where}.settings: {error}") from None
    if settings_table is not None:
        settings_table.used.update(settings_table.data)
    username = table.string("username")
    password = read_secret(table, "password", base)
    if password is not None and username is None:
        raise ConfigError(f"{table.where}: a password needs a username")
    cert = table.path("client_cert_file", base, must_exist=True)
    key = table.path("client_key_file", base, must_exist=True)
    if (cert is None) != (key is None):
        raise ConfigError(f"{table.where}: client_cert_file and client_key_file go together")
    table.done()
    return SensorConfig(
        id=sensor_id,
        source=source,
        model_dir=model_dir,
        manifest=manifest,
        tuning=tuning,
        calibration_offset_db=offset,
        calibration_date=date_value,
        username=username,
        password=password,
        client_cert_file=cert,
        client_key_file=key,
    )


def _mqtt(table: Table | None, base: Path) -> MqttConfig:
    if table is None:
        return MqttConfig()
    tls_value = table.raw("tls")
    tls: TlsConfig | None = None
    if tls_value is True:
        tls = TlsConfig()
    elif tls_value not in (None, False):
        tls_table = Table(tls_value, f"{table.where}.tls")
        tls = TlsConfig(
            ca_file=tls_table.path("ca_file", base, must_exist=True),
            cert_file=tls_table.path("cert_file", base, must_exist=True),
            key_file=tls_table.path("key_file", base, must_exist=True),
            insecure=tls_table.boolean("insecure", False),
        )
        tls_table.done()
    protocol = table.string("protocol", "5")
    if protocol not in ("5", "3.1.1"):
        raise ConfigError(f'{table.where}.protocol: use "5" or "3.1.1", got {protocol!r}')
    config = MqttConfig(
        host=table.string("host", "localhost") or "localhost",
        port=table.integer("port", 8883 if tls else 1883, 1, 65535) or 1883,
        keepalive_s=table.integer("keepalive_s", 30, 5, 3600) or 30,
        protocol=protocol,  # type: ignore[arg-type]
        tls=tls,
        drain_timeout_s=table.number("drain_timeout_s", 5.0, 0.0, 600.0) or 0.0,
        hold_unrouted=table.boolean("hold_unrouted", True),
        backoff_max_s=table.number("backoff_max_s", 60.0, 1.0, 3600.0) or 60.0,
        auth_retry_s=table.number("auth_retry_s", 300.0, 1.0, 86400.0) or 300.0,
    )
    table.done()
    return config


def parse_config(data: Mapping[str, Any], path: Path) -> AgentConfig:
    """The validated configuration from a parsed TOML document (``path`` for messages and
    relative paths)."""
    base = path.parent
    root = Table(dict(data), path.name)
    agent = root.table("agent") or Table({}, "agent")
    site = agent.required_string("site")
    try:
        check_id(site, "site")
    except TopicError as error:
        raise ConfigError(f"agent.site: {error}") from None
    state_dir = agent.path("state_dir", base) or DEFAULT_STATE_DIR
    heartbeat_s = agent.number("heartbeat_s", 60.0, 1.0, 86400.0) or 60.0
    max_backlog_s = agent.number("max_backlog_s", 30.0, 1.0, 3600.0) or 30.0
    agent.done()
    outbox = root.table("outbox") or Table({}, "outbox")
    max_mib = outbox.number("max_mib", 256.0, 1.0, 1_000_000.0) or 256.0
    outbox.done()
    mqtt = _mqtt(root.table("mqtt"), base)
    sensors_value = root.raw("sensors")
    if not isinstance(sensors_value, list) or not sensors_value:
        raise ConfigError(f"{path.name}: at least one [[sensors]] table is required")
    sensors = tuple(_sensor(Table(s, f"sensors[{i}]"), base) for i, s in enumerate(sensors_value))
    seen: set[str] = set()
    for sensor in sensors:
        if sensor.id in seen:
            raise ConfigError(f"sensors: the id {sensor.id!r} is used twice")
        seen.add(sensor.id)
    root.done()
    return AgentConfig(
        path=path,
        site=site,
        state_dir=state_dir,
        heartbeat_s=heartbeat_s,
        outbox_max_bytes=round(max_mib * MIB),
        max_backlog_s=max_backlog_s,
        mqtt=mqtt,
        sensors=sensors,
    )


def load_config(path: Path) -> AgentConfig:
    """Read and validate the agent's TOML configuration."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it ({error})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return parse_config(data, path)


__all__ = [
    "AgentConfig",
    "BridgeSourceConfig",
    "ConfigError",
    "FileSourceConfig",
    "MicrophoneSourceConfig",
    "MqttConfig",
    "SensorConfig",
    "SourceConfig",
    "TlsConfig",
    "load_config",
    "parse_config",
]
