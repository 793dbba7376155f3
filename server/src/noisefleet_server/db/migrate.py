"""Versioned SQL migrations, applied in order by ``noisefleet-server migrate``.

Steps:
1. take a session advisory lock (two servers starting together apply each migration once);
2. create the version table if it is missing; read the applied versions;
3. when the TimescaleDB extension is available, create it and prefer each migration's
   ``NNNN_name.timescale.sql`` variant (the public views are the same either way);
4. apply every missing version in its own transaction, recording it in the version table.
Running it again is a no-op.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

LOCK_KEY = 0x6E6F6973  # "nois": the advisory lock of migrations
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(\.timescale)?\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class MigrationReport:
    applied: tuple[str, ...]
    timescale: bool
    current_version: int


def available_migrations(timescale: bool) -> list[Migration]:
    """The shipped migrations, one per version, with the Timescale variant where asked."""
    chosen: dict[int, tuple[bool, Migration]] = {}
    for entry in resources.files("noisefleet_server.db.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        version, name, variant = int(match[1]), match[2], match[3] is not None
        if variant and not timescale:
            continue
        if version in chosen and chosen[version][0] and not variant:
            continue
        chosen[version] = (variant, Migration(version, name, entry.read_text()))
    return [chosen[v][1] for v in sorted(chosen)]


def timescale_available(conn: psycopg.Connection) -> bool:
    """Whether TimescaleDB is installed in the database (creating it when it is loadable)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
    ).fetchone()
    if not row or not row[0]:
        return False
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error:
        return False  # listed but not preloaded: run on plain PostgreSQL
    return True


def migrate(conn: psycopg.Connection) -> MigrationReport:
    """Apply the missing migrations (``conn`` in autocommit mode)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS noisefleet_store")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS noisefleet_store.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " timescale boolean NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            row[0] for row in conn.execute("SELECT version FROM noisefleet_store.schema_migrations")
        }
        timescale = timescale_available(conn)
        applied = []
        for migration in available_migrations(timescale):
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO noisefleet_store.schema_migrations (version, name, timescale)"
                    " VALUES (%s, %s, %s)",
                    (migration.version, migration.name, timescale),
                )
            applied.append(f"{migration.version:04d}_{migration.name}")
        row = conn.execute(
            "SELECT coalesce(max(version), 0) FROM noisefleet_store.schema_migrations"
        ).fetchone()
        return MigrationReport(tuple(applied), timescale, int(row[0]) if row else 0)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def uses_timescale(conn: psycopg.Connection) -> bool:
    """Whether this database was migrated on the TimescaleDB path."""
    row = conn.execute(
        "SELECT coalesce(bool_or(timescale), false) FROM noisefleet_store.schema_migrations"
    ).fetchone()
    return bool(row and row[0])
