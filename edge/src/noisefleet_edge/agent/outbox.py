"""The durable outbox: every message the edge publishes is committed here first.

A message is unsent until the broker acknowledged it (acoupi's rule), so nothing is lost to a
network outage, a broker restart, a crash or a power cut after a commit.

Steps, per call (each call is one short transaction under one lock, so the outbox is usable
from worker threads and from the event loop's thread alike):

``enqueue``
  1. take the sensor's next sequence number (persisted per sensor, +1 per message, never reused),
  2. call ``build(sequence)`` for the encoded payload, store the row, commit (``synchronous=FULL``),
  3. enforce the disk cap: drop the oldest unsent messages (any sensor) and count them.
``stage`` / ``enqueue_staged``
  level records (one per second) are staged one by one so each survives a crash before its batch
  exists; ``enqueue_staged`` turns all of a sensor's staged records into one message atomically.
``pending`` / ``mark_sent`` / ``dead_letter``
  the MQTT link reads rows oldest first and deletes them once acknowledged (or refused for good).

Cap accounting is logical: each row counts ``len(payload) + len(topic) + ROW_OVERHEAD_BYTES``
(staged records ``len(json) + ROW_OVERHEAD_BYTES``). Page counts would not shrink when rows are
deleted (freed pages stay in the file until vacuumed), so a page-based cap would drop far more
than needed; a logical size is exact, cheap to keep up to date and easy to reason about.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from noisefleet_edge.errors import NoisefleetEdgeError

__all__ = ["ROW_OVERHEAD_BYTES", "Outbox", "OutboxEntry", "OutboxError"]

log = logging.getLogger(__name__)

ROW_OVERHEAD_BYTES = 96
"""Estimated bytes per row beyond payload and topic: record header, sensor, sequence, time,
two index entries and page slack (measured with ``bench/bench_outbox.py``)."""

DROP_LOG_INTERVAL_S = 60.0
"""While the cap keeps dropping, one warning line per this interval (the first one at once)."""

DEAD_LETTERS_KEPT = 100
"""The newest dead letters kept for inspection (all of them are counted)."""

_VACUUM_FREE_PAGES = 256
"""Give free pages back to the file system once this many are free (1 MiB at 4 KiB pages)."""

_SCHEMA_VERSION = 2
_MIGRATIONS = {1: "ALTER TABLE staged ADD COLUMN staged_at TEXT;"}
"""From a schema version to the next one (2: when each level record was staged)."""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sensors (
    sensor TEXT PRIMARY KEY,
    last_sequence INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    dead_lettered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sensor TEXT NOT NULL,
    topic TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    payload BLOB NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (sensor, sequence)
);
CREATE INDEX IF NOT EXISTS outbox_by_sensor ON outbox (sensor, id);
CREATE TABLE IF NOT EXISTS staged (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sensor TEXT NOT NULL,
    record TEXT NOT NULL,
    staged_at TEXT
);
CREATE INDEX IF NOT EXISTS staged_by_sensor ON staged (sensor, id);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    sensor TEXT NOT NULL,
    topic TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


class OutboxError(NoisefleetEdgeError):
    """The outbox cannot be opened or written (one line: what happened and what to do)."""


@dataclass(frozen=True)
class OutboxEntry:
    """One stored message."""

    id: int
    """Increasing over the file's life (never reused), so it orders messages across sensors."""
    sensor: str
    topic: str
    sequence: int
    payload: bytes
    created_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    """A SQLite outbox in WAL mode with ``synchronous=FULL``; one connection, one lock."""

    def __init__(self, path: Path, max_bytes: int, clock: Callable[[], datetime] = _now) -> None:
        if max_bytes <= 0:
            raise OutboxError(f"outbox max_bytes must be positive, got {max_bytes}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._last_drop_log = -DROP_LOG_INTERVAL_S
        self._unlogged_drops: dict[str, int] = {}
        self._db: sqlite3.Connection | None = None
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0.0
            )
            self._configure(self._db)
            self._bytes = self._measure(self._db)
        except sqlite3.Error as error:
            if self._db is not None:
                self._db.close()
                self._db = None
            raise OutboxError(_open_advice(self.path, error)) from None

    # -- opening ---------------------------------------------------------------------------------

    @staticmethod
    def _configure(db: sqlite3.Connection) -> None:
        # EXCLUSIVE: one agent per outbox file (a second one fails at open instead of sending
        # every message twice); it also spares WAL its shared-memory file.
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        # Only takes effect on a new file (before the first table): freed pages can then be
        # handed back with incremental_vacuum instead of a full VACUUM.
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"the file system refused WAL mode ({mode})")
        # FULL: the WAL is fsynced at every commit, so a power cut after a commit loses nothing.
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA journal_size_limit = 4194304")
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this agent's {_SCHEMA_VERSION}"
            )
        # A new file (version 0) gets the current schema; an older one is migrated.
        migrations = "".join(
            _MIGRATIONS[v] for v in range(version or _SCHEMA_VERSION, _SCHEMA_VERSION)
        )
        try:
            db.executescript(
                f"BEGIN IMMEDIATE;{_SCHEMA}{migrations}"
                f"PRAGMA user_version = {_SCHEMA_VERSION};COMMIT;"
            )
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    @staticmethod
    def _measure(db: sqlite3.Connection) -> int:
        outbox = db.execute(
            "SELECT COALESCE(SUM(length(payload) + length(topic)), 0), COUNT(*) FROM outbox"
        ).fetchone()
        staged = db.execute(
            "SELECT COALESCE(SUM(length(record)), 0), COUNT(*) FROM staged"
        ).fetchone()
        return int(outbox[0] + staged[0] + (outbox[1] + staged[1]) * ROW_OVERHEAD_BYTES)

    # -- plumbing --------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """The connection inside ``BEGIN IMMEDIATE`` … ``COMMIT``, under the lock; SQLite errors
        become one-line ``OutboxError``s, anything else (a failing ``build``) rolls back."""
        with self._lock:
            db = self._connection()
            saved_bytes = self._bytes
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException as error:
                self._bytes = saved_bytes
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise OutboxError(_write_advice(self.path, action, error)) from None
                raise

    @contextmanager
    def _reading(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error as error:
                raise OutboxError(f"outbox {self.path}: cannot {action} ({error})") from None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError(f"outbox {self.path} is closed")
        return self._db

    def _next_sequence(self, db: sqlite3.Connection, sensor: str) -> int:
        db.execute("INSERT OR IGNORE INTO sensors (sensor) VALUES (?)", (sensor,))
        row = db.execute(
            "UPDATE sensors SET last_sequence = last_sequence + 1 WHERE sensor = ? "
            "RETURNING last_sequence",
            (sensor,),
        ).fetchone()
        return int(row[0])

    def _insert(
        self, db: sqlite3.Connection, sensor: str, topic: str, sequence: int, payload: bytes
    ) -> OutboxEntry:
        if not isinstance(payload, bytes):
            raise TypeError(f"build must return bytes, got {type(payload).__name__}")
        created = self._clock()
        row = db.execute(
            "INSERT INTO outbox (sensor, topic, sequence, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (sensor, topic, sequence, payload, created.isoformat()),
        ).fetchone()
        self._bytes += len(payload) + len(topic.encode()) + ROW_OVERHEAD_BYTES
        entry = OutboxEntry(int(row[0]), sensor, topic, sequence, payload, created)
        self._enforce_cap(db, keep_id=entry.id)
        return entry

    def _enforce_cap(self, db: sqlite3.Connection, keep_id: int | None = None) -> None:
        """Delete the oldest unsent messages until under the cap (never ``keep_id``, the row
        just inserted), count them per sensor and log one warning line."""
        dropped: dict[str, int] = {}
        while self._bytes > self.max_bytes:
            rows = db.execute(
                "SELECT id, sensor, length(payload) + length(topic) FROM outbox "
                "WHERE id IS NOT ? ORDER BY id LIMIT 64",
                (keep_id,),
            ).fetchall()
            if not rows:
                break
            for row_id, sensor, size in rows:
                if self._bytes <= self.max_bytes:
                    break
                db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                self._bytes -= int(size) + ROW_OVERHEAD_BYTES
                dropped[sensor] = dropped.get(sensor, 0) + 1
        for sensor, count in dropped.items():
            db.execute("UPDATE sensors SET dropped = dropped + ? WHERE sensor = ?", (count, sensor))
        if dropped:
            self._log_drops(dropped)

    def _log_drops(self, dropped: dict[str, int]) -> None:
        """One warning line at the first drop, then at most one a minute (with the totals)."""
        for sensor, count in dropped.items():
            self._unlogged_drops[sensor] = self._unlogged_drops.get(sensor, 0) + count
        now = time.monotonic()
        if now - self._last_drop_log < DROP_LOG_INTERVAL_S:
            return
        detail = ", ".join(f"{s}: {n}" for s, n in sorted(self._unlogged_drops.items()))
        log.warning(
            "outbox over its cap of %d bytes: dropped the %d oldest unsent messages (%s)",
            self.max_bytes,
            sum(self._unlogged_drops.values()),
            detail,
        )
        self._unlogged_drops.clear()
        self._last_drop_log = now

    def _reclaim(self, db: sqlite3.Connection) -> None:
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        if free >= _VACUUM_FREE_PAGES:
            # Python's sqlite3 steps a statement without result columns once, and each step
            # of incremental_vacuum frees one page: so one execute per free page.
            for _ in range(free):
                db.execute("PRAGMA incremental_vacuum")

    # -- writing ---------------------------------------------------------------------------------

    def enqueue(self, sensor: str, topic: str, build: Callable[[int], bytes]) -> OutboxEntry:
        """Store the message ``build(sequence)`` under the sensor's next sequence number, in one
        transaction (an exception from ``build`` leaves the outbox unchanged)."""
        with self._transaction("store a message") as db:
            sequence = self._next_sequence(db, sensor)
            return self._insert(db, sensor, topic, sequence, build(sequence))

    def stage(self, sensor: str, record: Mapping[str, Any]) -> None:
        """Keep one level record (JSON) until ``enqueue_staged`` batches it."""
        try:
            text = json.dumps(record, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise OutboxError(f"level record for {sensor} is not JSON: {error}") from None
        with self._transaction("stage a level record") as db:
            db.execute(
                "INSERT INTO staged (sensor, record, staged_at) VALUES (?, ?, ?)",
                (sensor, text, self._clock().isoformat()),
            )
            self._bytes += len(text.encode()) + ROW_OVERHEAD_BYTES
            self._enforce_cap(db)

    def enqueue_staged(
        self, sensor: str, topic: str, build: Callable[[int, list[dict[str, Any]]], bytes]
    ) -> OutboxEntry | None:
        """Turn all of the sensor's staged records (oldest first) into one message, in one
        transaction; ``None`` when nothing is staged."""
        with self._transaction("batch level records") as db:
            rows = db.execute(
                "SELECT id, record FROM staged WHERE sensor = ? ORDER BY id", (sensor,)
            ).fetchall()
            if not rows:
                return None
            records = [json.loads(text) for _, text in rows]
            sequence = self._next_sequence(db, sensor)
            payload = build(sequence, records)
            db.execute("DELETE FROM staged WHERE sensor = ? AND id <= ?", (sensor, rows[-1][0]))
            self._bytes -= sum(len(text.encode()) + ROW_OVERHEAD_BYTES for _, text in rows)
            return self._insert(db, sensor, topic, sequence, payload)

    def mark_sent(self, ids: Iterable[int]) -> int:
        """Delete acknowledged messages; returns how many were still there."""
        return self._remove(list(ids), "mark messages sent", None)

    def dead_letter(self, ids: Iterable[int], reason: str) -> int:
        """Remove messages that can never be delivered (the broker refused them for good, or
        they no longer decode): counted per sensor, the newest few kept for inspection."""
        return self._remove(list(ids), "dead-letter messages", reason)

    def _remove(self, ids: list[int], action: str, reason: str | None) -> int:
        if not ids:
            return 0
        removed = 0
        with self._transaction(action) as db:
            for row_id in ids:
                row = db.execute(
                    "DELETE FROM outbox WHERE id = ? RETURNING sensor, topic, sequence, payload",
                    (row_id,),
                ).fetchone()
                if row is None:
                    continue
                removed += 1
                sensor, topic, sequence, payload = row
                self._bytes -= len(payload) + len(topic.encode()) + ROW_OVERHEAD_BYTES
                if reason is not None:
                    db.execute(
                        "UPDATE sensors SET dead_lettered = dead_lettered + 1 WHERE sensor = ?",
                        (sensor,),
                    )
                    db.execute(
                        "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            row_id,
                            sensor,
                            topic,
                            sequence,
                            payload,
                            reason,
                            self._clock().isoformat(),
                        ),
                    )
            if reason is not None:
                db.execute(
                    "DELETE FROM dead_letters WHERE id NOT IN "
                    "(SELECT id FROM dead_letters ORDER BY id DESC LIMIT ?)",
                    (DEAD_LETTERS_KEPT,),
                )
            self._reclaim(db)
        return removed

    # -- reading ---------------------------------------------------------------------------------

    def pending(self, sensor: str, limit: int, after_id: int = 0) -> list[OutboxEntry]:
        """Up to ``limit`` unsent messages of the sensor with ``id > after_id``, oldest first."""
        with self._reading("read pending messages") as db:
            rows = db.execute(
                "SELECT id, sensor, topic, sequence, payload, created_at FROM outbox "
                "WHERE sensor = ? AND id > ? ORDER BY id LIMIT ?",
                (sensor, after_id, limit),
            ).fetchall()
        return [
            OutboxEntry(r[0], r[1], r[2], r[3], bytes(r[4]), datetime.fromisoformat(r[5]))
            for r in rows
        ]

    def newest_id(self, sensor: str | None = None) -> int:
        """The id of the newest unsent message (of the sensor), 0 when there is none."""
        with self._reading("read the newest id") as db:
            if sensor is None:
                row = db.execute("SELECT MAX(id) FROM outbox").fetchone()
            else:
                row = db.execute(
                    "SELECT MAX(id) FROM outbox WHERE sensor = ?", (sensor,)
                ).fetchone()
        return int(row[0] or 0)

    def last_sequence(self, sensor: str) -> int:
        """The sequence number of the sensor's most recent data message, 0 when none."""
        return self._sensor_value("last_sequence", sensor)

    def depth(self, sensor: str | None = None) -> int:
        """Unsent messages (of the sensor)."""
        with self._reading("count messages") as db:
            if sensor is None:
                row = db.execute("SELECT COUNT(*) FROM outbox").fetchone()
            else:
                row = db.execute(
                    "SELECT COUNT(*) FROM outbox WHERE sensor = ?", (sensor,)
                ).fetchone()
        return int(row[0])

    def staged_at(self, sensor: str) -> datetime | None:
        """When the newest of the sensor's staged records was staged; None when none is (or
        only records staged by an agent older than this outbox schema)."""
        with self._reading("read when records were staged") as db:
            row = db.execute(
                "SELECT staged_at FROM staged WHERE sensor = ? ORDER BY id DESC LIMIT 1",
                (sensor,),
            ).fetchone()
        return None if row is None or row[0] is None else datetime.fromisoformat(row[0])

    def staged_count(self, sensor: str) -> int:
        """Level records staged for the sensor's next batch."""
        with self._reading("count staged records") as db:
            row = db.execute("SELECT COUNT(*) FROM staged WHERE sensor = ?", (sensor,)).fetchone()
        return int(row[0])

    def dropped(self, sensor: str | None = None) -> int:
        """Messages dropped by the disk cap, ever (persisted)."""
        return self._sensor_value("dropped", sensor)

    def dead_lettered(self, sensor: str | None = None) -> int:
        """Messages given up as undeliverable, ever (persisted)."""
        return self._sensor_value("dead_lettered", sensor)

    def _sensor_value(self, column: str, sensor: str | None) -> int:
        with self._reading(f"read {column}") as db:
            if sensor is None:
                row = db.execute(f"SELECT COALESCE(SUM({column}), 0) FROM sensors").fetchone()
            else:
                row = db.execute(
                    f"SELECT {column} FROM sensors WHERE sensor = ?", (sensor,)
                ).fetchone()
        return int(row[0]) if row is not None else 0

    def size_bytes(self) -> int:
        """The logical size the cap is compared with (see the module docstring)."""
        with self._lock:
            return self._bytes

    def file_bytes(self) -> int:
        """The database and its WAL on disk."""
        wal = self.path.with_name(self.path.name + "-wal")
        return sum(p.stat().st_size for p in (self.path, wal) if p.exists())

    # -- closing ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Checkpoint and close; later calls raise ``OutboxError``."""
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as error:
                log.warning("outbox %s: checkpoint at close failed (%s)", self.path, error)
            finally:
                self._db.close()
                self._db = None

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_advice(path: Path, error: sqlite3.Error) -> str:
    text = str(error)
    if "locked" in text:
        return f"outbox {path} is in use by another process: stop the other agent first"
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return (
            f"cannot open outbox {path} ({text}): check that its directory exists and is "
            "writable by the agent"
        )
    return (
        f"outbox {path} is unreadable ({text}): move it aside (a new empty outbox is created "
        "at the next start; its unsent messages are lost)"
    )


def _write_advice(path: Path, action: str, error: sqlite3.Error) -> str:
    text = str(error)
    if "full" in text:
        return f"outbox {path}: cannot {action} ({text}): free disk space or lower max_bytes"
    return f"outbox {path}: cannot {action} ({text})"
