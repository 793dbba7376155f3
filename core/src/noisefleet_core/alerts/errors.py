"""The alerts package's exceptions: one root, so callers decide recovery by our own classes."""

from __future__ import annotations


class AlertError(Exception):
    """Root of every error the alerts core raises on purpose."""


class RuleError(AlertError):
    """A rule or rule set is invalid; the one-line message names the path and says why, e.g.
    ``rules[2] (night-peak).tiers[0].limit_db: must be a number between 0 and 200, got "loud"``."""
