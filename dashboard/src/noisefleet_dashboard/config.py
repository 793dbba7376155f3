"""The dashboard's configuration, read like the server's: one TOML file, the environment wins.

Steps of ``load_config``:
1. read the TOML file when one is given (sections ``[database]``, ``[dashboard]`` and
   ``[mqtt]``; unknown sections or keys are errors);
2. overlay the environment: ``NOISEFLEET_DATABASE_URL`` and, for every other setting,
   ``NOISEFLEET_<SECTION>_<KEY>`` (e.g. ``NOISEFLEET_DASHBOARD_SESSION_TTL_S=3600``);
3. read the database and broker passwords from ``database.password_file`` and
   ``mqtt.password_file`` (never inline in the file);
4. validate once into frozen dataclasses; every problem is one ``ConfigError`` line.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from noisefleet_dashboard.errors import ConfigError
from noisefleet_server.config import MqttSettings
from noisefleet_server.config_values import read_secret, read_section, with_password
from noisefleet_server.errors import ConfigError as ServerConfigError

CONFIG_FILE_ENV = "NOISEFLEET_DASHBOARD_CONFIG"
"""Set by ``noisefleet-dashboard run --config FILE`` for the Streamlit process it starts."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = field(default="", repr=False)
    """libpq URL, e.g. postgresql://noisefleet_dashboard@db:5432/noisefleet."""
    password_file: str = ""
    """File holding the database password (overrides one in the URL)."""
    pool_max_size: int = 4
    """Connections per dashboard process."""
    connect_timeout_s: float = 5.0


@dataclass(frozen=True)
class DashboardSettings:
    session_ttl_s: int = 12 * 3600
    """A sign-in is valid this long; then the user signs in again."""
    max_failed: int = 5
    """Failed sign-ins in a row that lock the account ..."""
    lock_s: int = 15 * 60
    """... for this long (a right password is refused too while locked)."""
    cache_ttl_s: int = 30
    """How long query results are reused (per set of access rights and parameters)."""
    offline_after_s: int = 300
    """A sensor not heard from for this long is shown offline, whatever its last status."""
    max_points: int = 2000
    """At most this many points per chart series: the resolution is chosen to fit."""
    rules_file: str = ""
    """The server's ``alerts.rules_file`` (if any): rule drafts are checked against it too."""
    command_wait_s: float = 5.0
    """How long a settings or model push from the Sensor page waits for the agent's answer
    (a later answer is recorded by the server and shown on the next visit)."""
    models_dir: str = ""
    """A folder of model folders (each with its model.json) that the Sensor page may push."""


@dataclass(frozen=True)
class DashboardConfig:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    """The server's broker: settings and model pushes are published there (the server's
    ``[mqtt]`` keys; ``NOISEFLEET_MQTT_URL``)."""


_SECTIONS: dict[str, type] = {
    "database": DatabaseSettings,
    "dashboard": DashboardSettings,
    "mqtt": MqttSettings,
}


def _validate(config: DashboardConfig, from_file: Mapping[str, Mapping[str, object]]) -> None:
    url = config.database.url
    if "url" in from_file.get("database", {}) and urlsplit(url).password:
        raise ConfigError(
            "database.url: do not put the password in the file; use database.password_file "
            "or NOISEFLEET_DATABASE_URL"
        )
    if "url" in from_file.get("mqtt", {}) and urlsplit(config.mqtt.url).password:
        raise ConfigError(
            "mqtt.url: do not put the password in the file; use mqtt.password_file "
            "or NOISEFLEET_MQTT_URL"
        )
    if not url:
        raise ConfigError(
            "database.url: not set; set NOISEFLEET_DATABASE_URL or [database] url in the config "
            "(e.g. postgresql://noisefleet@127.0.0.1:5432/noisefleet)"
        )
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConfigError("database.url: must be a postgresql:// URL")
    for name, section in (("database", config.database), ("dashboard", config.dashboard)):
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ConfigError(f"{name}.{f.name}: must be greater than 0, got {value}")


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> DashboardConfig:
    """The validated configuration (see the module docstring)."""
    try:
        return _load(path, os.environ if env is None else env)
    except ServerConfigError as error:  # the server's shared value readers
        raise ConfigError(str(error)) from None


def _load(path: Path | None, env: Mapping[str, str]) -> DashboardConfig:
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except OSError as error:
            raise ConfigError(f"--config: cannot read {path}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"--config: {path} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(unknown)} in {path}")
    for name in _SECTIONS:
        if not isinstance(data.get(name, {}), dict):
            raise ConfigError(f"[{name}]: must be a table")
    sections = {
        name: read_section(name, cls, data.get(name, {}), env) for name, cls in _SECTIONS.items()
    }
    config = DashboardConfig(**sections)
    _validate(config, data)
    if config.database.password_file:
        base = path.parent if path is not None else None
        secret = read_secret("database.password_file", config.database.password_file, base)
        database = dataclasses.replace(
            config.database, url=with_password(config.database.url, secret)
        )
        config = dataclasses.replace(config, database=database)
    if config.mqtt.password_file:
        base = path.parent if path is not None else None
        secret = read_secret("mqtt.password_file", config.mqtt.password_file, base)
        mqtt = dataclasses.replace(config.mqtt, url=with_password(config.mqtt.url, secret))
        config = dataclasses.replace(config, mqtt=mqtt)
    return config
