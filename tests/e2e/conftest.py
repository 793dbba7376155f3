"""Fixtures of the end-to-end test: the server suite's real PostgreSQL (a fresh migrated
database per test), a real mosquitto per test and ``noisefleet-server run`` as a subprocess."""

from __future__ import annotations

from tests.server.conftest import broker, database_url, db, postgres, start_server

__all__ = ["broker", "database_url", "db", "postgres", "start_server"]
