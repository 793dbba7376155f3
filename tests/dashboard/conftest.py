"""Fixtures of the dashboard tests: the server suite's real PostgreSQL (a fresh migrated
database per test) and a database seeded with a small known fleet (``seed``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from tests.dashboard.seed import Fleet, seed_fleet
from tests.server.conftest import database_url, postgres

__all__ = ["database_url", "postgres"]

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def fleet_db(database_url: str) -> Fleet:
    """The known fleet with its levels from 2026-11-24 10:00 UTC (see ``seed``)."""
    return seed_fleet(database_url, T0)
