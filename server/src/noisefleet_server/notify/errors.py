"""The notification errors: under the server's root, so callers decide by our classes."""

from __future__ import annotations

from noisefleet_server.errors import ServerError


class NotifyError(ServerError):
    """A notification cannot be queued as asked (a payload that is not JSON, ...)."""
