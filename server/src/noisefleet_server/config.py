"""The server's configuration: one TOML file, every setting also from the environment.

Steps of ``load_config``:
1. read the TOML file when one is given (unknown sections or keys are errors);
2. overlay the environment: ``NOISEFLEET_DATABASE_URL``, ``NOISEFLEET_MQTT_URL`` and, for every
   other setting, ``NOISEFLEET_<SECTION>_<KEY>`` (e.g. ``NOISEFLEET_INGEST_BATCH_MAX_MESSAGES``);
3. read secrets from files (``*_file`` keys) or the environment, never inline in the file;
4. validate everything once into frozen dataclasses; every problem is one ``ConfigError`` line
   naming the key. Secrets never appear in ``repr`` or logs.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from noisefleet_server.config_values import (
    ENV_PREFIX,
    read_secret,
    read_section,
    with_password,
)
from noisefleet_server.errors import ConfigError
from noisefleet_server.notify.config import NotifierSettings, NotifySettings, parse_notifiers


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = field(default="", repr=False)
    """libpq URL, e.g. postgresql://noisefleet@db:5432/noisefleet (password via file or env)."""
    password_file: str = ""
    """File holding the database password (overrides one in the URL)."""
    pool_max_size: int = 8
    """Connections per server process."""
    connect_timeout_s: float = 5.0


@dataclass(frozen=True)
class MqttSettings:
    url: str = field(default="mqtt://127.0.0.1:1883", repr=False)
    """mqtt://[user:password@]host:port, or mqtts:// for TLS."""
    password_file: str = ""
    """File holding the broker password (overrides one in the URL)."""
    ca_file: str = ""
    """CA certificate for mqtts:// (system CAs when empty)."""
    cert_file: str = ""
    """Client certificate for mutual TLS."""
    key_file: str = ""
    client_id: str = ""
    """Stable per worker, so its persistent session survives restarts (default: host + pid
    is NOT used: an empty id means noisefleet-ingest-<hostname>)."""
    share_group: str = "noisefleet-ingest"
    """MQTT 5 shared subscription group: N workers in one group split the load."""
    session_expiry_s: int = 7 * 24 * 3600
    """How long the broker keeps a worker's session (and queues for it) while it is away."""
    receive_maximum: int = 1000
    """Unacknowledged QoS 1 messages the broker may have in flight to one worker."""
    keepalive_s: int = 30
    reconnect_max_s: float = 30.0
    """Back-off ceiling between reconnect attempts."""
    leave_on_stop: bool = False
    """On stop, unsubscribe, store what is in flight and end the session. For scaling down: a
    broker keeps sending an absent worker's share of a shared subscription to its session."""


@dataclass(frozen=True)
class IngestSettings:
    batch_max_messages: int = 500
    """At most this many messages per database transaction."""
    batch_max_wait_s: float = 0.1
    """A batch is committed at the latest this long after its first message."""
    max_payload_bytes: int = 1024 * 1024
    """Larger payloads are dead-lettered unparsed."""
    max_future_s: float = 300.0
    """Messages dated further ahead of the server's clock are dead-lettered."""
    dead_letter_payload_bytes: int = 64 * 1024
    """How much of a refused payload the dead-letter table keeps."""


@dataclass(frozen=True)
class RollupSettings:
    interval_s: float = 2.0
    """How often dirty hours and days are recomputed."""
    max_hours_per_pass: int = 2000


@dataclass(frozen=True)
class RetentionSettings:
    level_records_days: int = 90
    """1-s records (sensor-minute rows); roll-ups are kept for ever."""
    heartbeats_days: int = 90
    message_ids_days: int = 30
    """Message ids kept for de-duplication (level records are de-duplicated by start too)."""
    dead_letters_days: int = 30
    notifications_days: int = 90
    """Delivered or failed notifications (the alerts themselves are kept for ever)."""


@dataclass(frozen=True)
class AlertSettings:
    enabled: bool = True
    """Evaluate alert rules in this server process (several processes share the work)."""
    rules_file: str = ""
    """TOML file of alert rules (docs/alerts.md), merged with the rules kept in the database;
    relative to the config file. Empty: database rules only."""
    interval_s: float = 1.0
    """How often sensors with new data are evaluated."""
    health_interval_s: float = 30.0
    """How often the health rules of every sensor are evaluated against the clock."""
    rules_refresh_s: float = 10.0
    """How often the database's rules are re-read."""
    late_after_s: float = 300.0
    """An alert whose change lies further in the past than this when it is evaluated (data
    replayed after an outage) is marked late and never notified as if live."""
    max_sensors_per_pass: int = 500


@dataclass(frozen=True)
class ServerConfig:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    rollups: RollupSettings = field(default_factory=RollupSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    log_level: str = "info"
    notify: NotifySettings = field(default_factory=NotifySettings)
    notifiers: tuple[NotifierSettings, ...] = ()
    """The ``[notifiers.<name>]`` tables (``notify.config``), in file order."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None = field(repr=False)


_SECTIONS: dict[str, type] = {
    "database": DatabaseSettings,
    "mqtt": MqttSettings,
    "ingest": IngestSettings,
    "rollups": RollupSettings,
    "retention": RetentionSettings,
    "alerts": AlertSettings,
    "notify": NotifySettings,
}


def _positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key}: must be greater than 0, got {value}")


def _validate(
    config: ServerConfig, from_file: Mapping[str, Mapping[str, object]], offline: bool = False
) -> None:
    if "url" in from_file.get("database", {}) and urlsplit(config.database.url).password:
        raise ConfigError(
            "database.url: do not put the password in the file; use database.password_file "
            "or NOISEFLEET_DATABASE_URL"
        )
    if "url" in from_file.get("mqtt", {}) and urlsplit(config.mqtt.url).password:
        raise ConfigError(
            "mqtt.url: do not put the password in the file; use mqtt.password_file "
            "or NOISEFLEET_MQTT_URL"
        )
    for section in (config.ingest, config.rollups, config.retention, config.mqtt, config.alerts):
        name = next(k for k, v in _SECTIONS.items() if v is type(section))
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                _positive(f"{name}.{f.name}", value)
    if not config.database.url and not offline:
        raise ConfigError(
            "database.url: not set; set NOISEFLEET_DATABASE_URL or [database] url in the config "
            "(e.g. postgresql://noisefleet@127.0.0.1:5432/noisefleet)"
        )
    if config.database.url and urlsplit(config.database.url).scheme not in (
        "postgresql",
        "postgres",
    ):
        raise ConfigError("database.url: must be a postgresql:// URL")
    broker_address(config.mqtt)
    if config.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError("log_level: one of debug, info, warning, error")


def load_config(
    path: Path | None = None, env: Mapping[str, str] | None = None, *, offline: bool = False
) -> ServerConfig:
    """The validated configuration (see the module docstring). ``offline``: for commands that
    use no database (validating rules, expanding templates): no database URL needed."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    base = None
    if path is not None:
        base = path.parent
        try:
            data = tomllib.loads(path.read_text())
        except OSError as error:
            raise ConfigError(f"--config: cannot read {path}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"--config: {path} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(_SECTIONS) - {"log_level", "notifiers"})
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(unknown)} in {path}")
    for name in _SECTIONS:
        if not isinstance(data.get(name, {}), dict):
            raise ConfigError(f"[{name}]: must be a table")
    sections = {
        name: read_section(name, cls, data.get(name, {}), env) for name, cls in _SECTIONS.items()
    }
    log_level = env.get(f"{ENV_PREFIX}LOG_LEVEL", data.get("log_level", "info"))
    if not isinstance(log_level, str):
        raise ConfigError("log_level: expected a string")
    notifiers = parse_notifiers(data.get("notifiers", {}), base, env)
    config = ServerConfig(**sections, log_level=log_level, notifiers=notifiers)
    _validate(config, data, offline)
    if config.database.password_file:
        secret = read_secret("database.password_file", config.database.password_file, base)
        config = dataclasses.replace(
            config,
            database=dataclasses.replace(
                config.database, url=with_password(config.database.url, secret)
            ),
        )
    if config.mqtt.password_file:
        secret = read_secret("mqtt.password_file", config.mqtt.password_file, base)
        config = dataclasses.replace(
            config,
            mqtt=dataclasses.replace(config.mqtt, url=with_password(config.mqtt.url, secret)),
        )
    if config.alerts.rules_file and not Path(config.alerts.rules_file).is_absolute() and base:
        config = dataclasses.replace(
            config,
            alerts=dataclasses.replace(
                config.alerts, rules_file=str(base / config.alerts.rules_file)
            ),
        )
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(config.mqtt, key)
        if value and not Path(value).is_absolute() and base is not None:
            changes: dict[str, Any] = {key: str(base / value)}
            config = dataclasses.replace(config, mqtt=dataclasses.replace(config.mqtt, **changes))
        if getattr(config.mqtt, key) and not Path(getattr(config.mqtt, key)).is_file():
            raise ConfigError(f"mqtt.{key}: {getattr(config.mqtt, key)} does not exist")
    return config


def broker_address(settings: MqttSettings) -> BrokerAddress:
    """Host, port, TLS and credentials from ``mqtt.url``."""
    parts = urlsplit(settings.url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ConfigError("mqtt.url: must start with mqtt:// or mqtts:// (TLS)")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("mqtt.url: the port is not a number") from None
    if not parts.hostname:
        raise ConfigError("mqtt.url: no host (e.g. mqtt://127.0.0.1:1883)")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def redacted_url(url: str) -> str:
    """The URL with any password replaced by ***, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()
