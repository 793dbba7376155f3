"""Reading configuration values, shared by the server's config, its notifiers and the dashboard:
one TOML table into a frozen dataclass (the environment wins), typed coercion, secrets from
files, a password put into a libpq URL. Every problem is one ``ConfigError`` line."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from noisefleet_server.errors import ConfigError

ENV_PREFIX = "NOISEFLEET_"


def coerce(key: str, value: object, kind: Any, from_env: bool) -> object:
    """``value`` (from the file, or a string from the environment) as ``kind``: bool, int,
    float, str or tuple[str, ...] (a TOML list, or comma-separated in the environment)."""
    if typing.get_origin(kind) is tuple:
        if from_env and isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings")
        return tuple(value)
    if from_env and isinstance(value, str):
        try:
            if kind is bool:
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return value.lower() in ("true", "1", "yes")
            if kind in (int, float):
                return kind(value)
        except ValueError:
            raise ConfigError(f"{key}: {value!r} is not a valid {kind.__name__}") from None
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def read_section(name: str, cls: type, table: Mapping[str, object], env: Mapping[str, str]) -> Any:
    """The dataclass ``cls`` from the TOML table ``[name]``, each key overridden by
    ``NOISEFLEET_<NAME>_<KEY>``; unknown keys are refused."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"[{name}]: unknown key(s) {', '.join(unknown)} (known: {sorted(known)})")
    values: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        key = f"{name}.{f.name}"
        env_name = f"{ENV_PREFIX}{name}_{f.name}".upper()
        kind = hints[f.name]
        if isinstance(kind, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        if env_name in env:
            values[f.name] = coerce(key, env[env_name], kind, True)
        elif f.name in table:
            values[f.name] = coerce(key, table[f.name], kind, False)
    return cls(**values)


def read_secret(key: str, path: object, base: Path | None) -> str:
    """The stripped contents of the file ``path`` (relative to ``base``)."""
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{key}: expected a file name")
    file = Path(path)
    if not file.is_absolute() and base is not None:
        file = base / file
    try:
        return file.read_text().strip()
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {file}: {error.strerror}") from None


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (URL-quoted) as its password."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    user = quote(parts.username or "", safe="")
    netloc = f"{user}:{quote(password, safe='')}@{parts.hostname or ''}{port}"
    return parts._replace(netloc=netloc).geturl()
