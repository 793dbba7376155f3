"""Reading a TOML document strictly: typed getters that name the key in every error, a check
for unknown keys (a typo never falls back to a default silently), and secrets read from the
environment or from files, never from the document itself."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from noisefleet_edge.errors import NoisefleetEdgeError


class ConfigError(NoisefleetEdgeError):
    """The configuration cannot be used; the message names the file, the key and the fix."""


class Table:
    """One TOML table: typed getters that name the key, and a check for unknown keys."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a table")
        self.data: dict[str, Any] = data
        self.where = where
        self.used: set[str] = set()

    def _error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}.{key}: {message}")

    def raw(self, key: str) -> object:
        self.used.add(key)
        return self.data.get(key)

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            raise self._error(key, f"must be a non-empty string, got {value!r}")
        return value

    def required_string(self, key: str) -> str:
        value = self.string(key)
        if value is None:
            raise self._error(key, "is required")
        return value

    def number(self, key: str, default: float | None, low: float, high: float) -> float | None:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._error(key, f"must be a number, got {value!r}")
        if not (math.isfinite(value) and low <= value <= high):
            raise self._error(key, f"must be within {low:g}..{high:g}, got {value!r}")
        return float(value)

    def integer(self, key: str, default: int | None, low: int, high: int) -> int | None:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._error(key, f"must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise self._error(key, f"must be within {low}..{high}, got {value}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._error(key, f"must be true or false, got {value!r}")
        return value

    def path(self, key: str, base: Path, must_exist: bool = False) -> Path | None:
        text = self.string(key)
        if text is None:
            return None
        path = Path(text)
        path = path if path.is_absolute() else base / path
        if must_exist and not path.exists():
            raise self._error(key, f"{path} does not exist")
        return path

    def table(self, key: str) -> Table | None:
        value = self.raw(key)
        return None if value is None else Table(value, f"{self.where}.{key}")

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(
                f"{self.where}: unknown key(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(self.used))}"
            )


def read_secret(table: Table, name: str, base: Path) -> str | None:
    """``{name}_env`` (an environment variable) or ``{name}_file`` (a file; relative to
    ``base``, the configuration's folder, like every other path), never inline."""
    if table.has(name):
        table.raw(name)
        raise ConfigError(
            f"{table.where}.{name}: secrets are not written in the configuration; use "
            f"{name}_env (an environment variable) or {name}_file (a file readable only by "
            "the agent)"
        )
    env_name = table.string(f"{name}_env")
    file_path = table.path(f"{name}_file", base)
    if env_name and file_path:
        raise ConfigError(f"{table.where}: give {name}_env or {name}_file, not both")
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(
                f"{table.where}.{name}_env: the environment variable {env_name} is not set"
            )
        return value
    if file_path:
        try:
            value = file_path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                f"{table.where}.{name}_file: cannot read {file_path} ({error.strerror})"
            ) from None
        if not value:
            raise ConfigError(f"{table.where}.{name}_file: {file_path} is empty")
        return value
    return None
