"""Notifier settings: the ``[notifiers.<name>]`` tables and the ``[notify]`` section.

Steps of ``parse_notifiers``:
1. every table is one notifier, named by its key (``[a-z0-9][a-z0-9_-]{0,31}``), with
   ``kind = "webhook" | "mqtt" | "email"``; unknown keys are errors;
2. overlay the environment: ``NOISEFLEET_NOTIFIERS_<NAME>_<KEY>`` (name upper-cased, ``-`` as
   ``_``) for every scalar key, ``to`` as a comma-separated list;
3. secrets (the webhook's ``secret``, the mail account's ``password``) come from a ``*_file``
   key or the environment, never inline in the file;
4. validate into frozen dataclasses; every problem is one ``ConfigError`` line naming the key.
This module imports nothing from ``noisefleet_server.config`` (which imports it).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from noisefleet_server.config_values import coerce, read_secret
from noisefleet_server.errors import ConfigError

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TOPIC_PREFIX = "noisefleet/v1/alerts"
MIN_SECRET_CHARS = 16
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "connection", "transfer-encoding"}
)


@dataclass(frozen=True)
class NotifySettings:
    """The ``[notify]`` section: how the delivery worker polls and claims."""

    interval_s: float = 5.0
    """Poll fallback: the worker wakes at once on ``pg_notify``, and at least this often."""
    batch: int = 100
    """At most this many notifications claimed per notifier and pass."""
    max_in_flight: int = 8
    """Concurrent deliveries per notifier: a slow receiver delays only its own queue."""
    lease_margin_s: float = 30.0
    """A claimed notification is reserved for ``timeout_s`` + this; a worker that died
    mid-delivery leaves it to another worker after that (so it may be delivered twice)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) <= 0:
                raise ConfigError(
                    f"notify.{f.name}: must be greater than 0, got {getattr(self, f.name)}"
                )


@dataclass(frozen=True, kw_only=True)
class NotifierBase:
    """What every notifier has: its name and its retry policy."""

    name: str
    timeout_s: float = 10.0
    """One delivery attempt ends after this long (connect, send, response)."""
    first_backoff_s: float = 1.0
    """Delay before the first retry; it doubles (with jitter) up to ``max_backoff_s``."""
    max_backoff_s: float = 300.0
    give_up_after_s: float = 86400.0
    """A notification still undelivered this long after it was queued is marked failed."""


@dataclass(frozen=True, kw_only=True)
class WebhookSettings(NotifierBase):
    """JSON POST signed with HMAC-SHA256 (see ``notify.signing``)."""

    kind: ClassVar[str] = "webhook"
    url: str
    """http:// or https:// URL the notifications are POSTed to."""
    secret: str = field(repr=False)
    """HMAC key, from ``secret_file`` or ``NOISEFLEET_NOTIFIERS_<NAME>_SECRET``."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers (``[notifiers.<name>.headers]``)."""


@dataclass(frozen=True, kw_only=True)
class MqttNotifierSettings(NotifierBase):
    """Publishes the body to ``<topic_prefix>/<site>/<sensor>`` on the server's broker
    (``[mqtt]``), QoS 1, waiting for the PUBACK."""

    kind: ClassVar[str] = "mqtt"
    topic_prefix: str = TOPIC_PREFIX
    qos: int = 1
    """Only 1: delivery is confirmed by the broker's PUBACK."""
    retain: bool = False


@dataclass(frozen=True, kw_only=True)
class EmailSettings(NotifierBase):
    """A plain-text mail with the JSON attached, over SMTP."""

    kind: ClassVar[str] = "email"
    host: str
    port: int = 25
    """25 (relay), 587 with ``starttls``, 465 with ``ssl``."""
    sender: str
    """The ``from`` key: the envelope and header sender."""
    to: tuple[str, ...]
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    """From ``password_file`` or ``NOISEFLEET_NOTIFIERS_<NAME>_PASSWORD``."""


NotifierSettings = WebhookSettings | MqttNotifierSettings | EmailSettings
KINDS: dict[str, type[NotifierBase]] = {
    "webhook": WebhookSettings,
    "mqtt": MqttNotifierSettings,
    "email": EmailSettings,
}
# File keys that are not fields, and fields that are not file keys.
_FILE_ONLY = {"kind", "secret_file", "password_file", "from"}
_NOT_IN_FILE = {"name", "secret", "password", "sender"}


def _field_kinds(cls: type[NotifierBase]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _file_keys(cls: type[NotifierBase]) -> set[str]:
    keys = (set(_field_kinds(cls)) - _NOT_IN_FILE) | {"kind"}
    if cls is WebhookSettings:
        keys.add("secret_file")
    if cls is EmailSettings:
        keys |= {"from", "password_file"}
    return keys


def _secret(
    prefix: str, name: str, table: Mapping[str, object], env: Mapping[str, str], base: Path | None
) -> str:
    """``name`` (secret or password) from the environment or ``<name>_file``."""
    if name in table:
        raise ConfigError(
            f"{prefix}.{name}: do not put the {name} in the file; use {name}_file or "
            f"{_env_name(prefix, name)}"
        )
    env_name = _env_name(prefix, name)
    if env_name in env:
        return env[env_name]
    if f"{name}_file" in table:
        return read_secret(f"{prefix}.{name}_file", table[f"{name}_file"], base)
    return ""


def _env_name(prefix: str, key: str) -> str:
    return f"NOISEFLEET_{prefix}_{key}".upper().replace(".", "_").replace("-", "_")


def _positive(prefix: str, settings: NotifierBase) -> None:
    for key in ("timeout_s", "first_backoff_s", "max_backoff_s", "give_up_after_s"):
        value = getattr(settings, key)
        if value <= 0:
            raise ConfigError(f"{prefix}.{key}: must be greater than 0, got {value}")
    if settings.max_backoff_s < settings.first_backoff_s:
        raise ConfigError(f"{prefix}.max_backoff_s: must not be less than first_backoff_s")


def _headers(prefix: str, value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{prefix}.headers: must be a table of header = value")
    headers = []
    for header, text in value.items():
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header):
            raise ConfigError(f"{prefix}.headers.{header}: not a valid header name")
        lowered = header.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("x-noisefleet-"):
            raise ConfigError(f"{prefix}.headers.{header}: set by the notifier, cannot be changed")
        if not isinstance(text, str) or any(c in text for c in "\r\n\0"):
            raise ConfigError(f"{prefix}.headers.{header}: must be a one-line string")
        headers.append((header, text))
    return tuple(headers)


def _check_webhook(prefix: str, settings: WebhookSettings) -> None:
    parts = urlsplit(settings.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{prefix}.url: must be an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 (raises for a bad port)
    except ValueError:
        raise ConfigError(f"{prefix}.url: the port is not a number") from None
    if parts.username or parts.password:
        raise ConfigError(f"{prefix}.url: no credentials in the URL (use headers)")
    if any(c in settings.url for c in " \r\n\0"):
        raise ConfigError(f"{prefix}.url: must not contain spaces or line breaks")
    if not settings.secret:
        raise ConfigError(
            f"{prefix}: no secret; set secret_file or {_env_name(prefix, 'secret')} "
            "(e.g. from `openssl rand -hex 32`)"
        )
    if len(settings.secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"{prefix}.secret: too short (at least {MIN_SECRET_CHARS} characters; "
            "e.g. `openssl rand -hex 32`)"
        )


def _check_mqtt(prefix: str, settings: MqttNotifierSettings) -> None:
    prefix_text = settings.topic_prefix
    if (
        not prefix_text
        or prefix_text.startswith("/")
        or prefix_text.endswith("/")
        or any(c in prefix_text for c in "+#\0")
    ):
        raise ConfigError(
            f"{prefix}.topic_prefix: a topic without wildcards or a leading/trailing '/', "
            f"e.g. {TOPIC_PREFIX!r}"
        )
    if settings.qos != 1:
        raise ConfigError(f"{prefix}.qos: only 1 (delivery is confirmed by the PUBACK)")


def _check_email(prefix: str, settings: EmailSettings) -> None:
    if not settings.host:
        raise ConfigError(f"{prefix}.host: the SMTP server's host name is required")
    if not 0 < settings.port < 65536:
        raise ConfigError(f"{prefix}.port: must be 1..65535, got {settings.port}")
    address = re.compile(r"^[^@\s<>,]+@[^@\s<>,]+$")
    if not address.match(settings.sender):
        raise ConfigError(f"{prefix}.from: not an e-mail address: {settings.sender!r}")
    if not settings.to:
        raise ConfigError(f"{prefix}.to: at least one recipient")
    for recipient in settings.to:
        if not address.match(recipient):
            raise ConfigError(f"{prefix}.to: not an e-mail address: {recipient!r}")
    if settings.starttls and settings.ssl:
        raise ConfigError(f"{prefix}: starttls and ssl exclude each other (587 or 465)")
    if bool(settings.username) != bool(settings.password):
        raise ConfigError(
            f"{prefix}: username and password go together (password via password_file or "
            f"{_env_name(prefix, 'password')})"
        )


def _notifier(
    name: str, table: object, base: Path | None, env: Mapping[str, str]
) -> NotifierSettings:
    prefix = f"notifiers.{name}"
    if not NAME.match(name):
        raise ConfigError(f"{prefix}: a name of a-z, 0-9, '_' and '-' (at most 32), e.g. ops")
    if not isinstance(table, dict):
        raise ConfigError(f"{prefix}: must be a table")
    kind = env.get(_env_name(prefix, "kind"), table.get("kind"))
    if kind not in KINDS:
        raise ConfigError(f"{prefix}.kind: one of {', '.join(KINDS)}, got {kind!r}")
    cls = KINDS[kind]
    for secret in ("secret", "password"):
        if secret in table:
            _secret(prefix, secret, table, env, base)  # raises: inline secrets are refused
    known = _file_keys(cls)
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{prefix}: unknown key(s) {', '.join(unknown)} (known: {sorted(known)})")
    values: dict[str, Any] = {"name": name}
    for key, field_kind in _field_kinds(cls).items():
        if key in _NOT_IN_FILE or key == "headers":
            continue
        env_name = _env_name(prefix, key)
        if env_name in env:
            values[key] = coerce(f"{prefix}.{key}", env[env_name], field_kind, True)
        elif key in table:
            values[key] = coerce(f"{prefix}.{key}", table[key], field_kind, False)
    if cls is WebhookSettings:
        values["secret"] = _secret(prefix, "secret", table, env, base)
        values["headers"] = _headers(prefix, table.get("headers", {}))
    if cls is EmailSettings:
        values["password"] = _secret(prefix, "password", table, env, base)
        sender = env.get(_env_name(prefix, "from"), table.get("from"))
        if sender is not None:
            values["sender"] = coerce(f"{prefix}.from", sender, str, False)
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.name not in values
    ]
    if required:
        key = "from" if required[0] == "sender" else required[0]
        raise ConfigError(f"{prefix}.{key}: required for a {kind} notifier")
    settings = typing.cast(NotifierSettings, cls(**values))
    _positive(prefix, settings)
    if isinstance(settings, WebhookSettings):
        _check_webhook(prefix, settings)
    elif isinstance(settings, MqttNotifierSettings):
        _check_mqtt(prefix, settings)
    else:
        _check_email(prefix, settings)
    return settings


def parse_notifiers(
    table: object, base_dir: Path | None, env: Mapping[str, str]
) -> tuple[NotifierSettings, ...]:
    """The validated notifiers of the ``[notifiers]`` table (see the module docstring)."""
    if not isinstance(table, dict):
        raise ConfigError("[notifiers]: must be a table of [notifiers.<name>] tables")
    notifiers = tuple(_notifier(name, body, base_dir, env) for name, body in table.items())
    seen: dict[str, str] = {}
    for notifier in notifiers:
        env_key = _env_name("", notifier.name)
        if env_key in seen:
            raise ConfigError(
                f"notifiers.{notifier.name}: clashes with notifiers.{seen[env_key]} in "
                "environment variable names ('-' and '_' are the same there)"
            )
        seen[env_key] = notifier.name
    return notifiers
