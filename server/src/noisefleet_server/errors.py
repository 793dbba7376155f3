"""The server's exceptions: one root, so callers decide by our classes, never by builtins."""

from __future__ import annotations


class ServerError(Exception):
    """Root of every error the server raises on purpose; the text is one line for operators."""


class ConfigError(ServerError):
    """The configuration is invalid; the text names the key and what to do."""


class DatabaseUnavailableError(ServerError):
    """PostgreSQL cannot be reached (or went away); retried with back-off by services."""


class BrokerUnavailableError(ServerError):
    """The MQTT broker cannot be reached or refused us."""


class RegistryError(ServerError):
    """A registry command cannot be carried out (unknown site, bad value...)."""


class CommandError(ServerError):
    """A command to a sensor was refused by it, or not acknowledged in time."""
