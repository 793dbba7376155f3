"""The dashboard's exceptions: one root, so callers decide by our classes, never by builtins."""

from __future__ import annotations


class DashboardError(Exception):
    """Root of every error the dashboard raises on purpose; the text is one line for operators."""


class ConfigError(DashboardError):
    """The configuration is invalid; the text names the key and what to do."""


class AccountError(DashboardError):
    """A user command cannot be carried out (unknown user, bad role, weak password...)."""


class DatabaseUnavailableError(DashboardError):
    """PostgreSQL cannot be reached."""


class QueryError(DashboardError):
    """A query was asked for something impossible (an empty time span, an unknown view)."""
