"""The durable outbox: sequences, crash safety, the disk cap, batching, errors."""

from __future__ import annotations

import ast
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from noisefleet_core.contract.messages import decode
from noisefleet_edge.agent.outbox import ROW_OVERHEAD_BYTES, Outbox, OutboxError

from .helpers import clock, heartbeat_builder, heartbeat_topic

REPO = Path(__file__).resolve().parents[3]
MIB = 1 << 20


def _payload(size: int) -> Any:
    return lambda sequence: f"{sequence:08d}".encode() + b"x" * (size - 8)


def test_sequences_are_per_sensor_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path, MIB, clock=clock) as outbox:
        first = [outbox.enqueue("s01", "t/a", _payload(10)).sequence for _ in range(3)]
        other = outbox.enqueue("s02", "t/b", _payload(10))
        assert first == [1, 2, 3]
        assert other.sequence == 1
        outbox.mark_sent([e.id for e in outbox.pending("s01", 10)])
        assert outbox.depth("s01") == 0
    with Outbox(path, MIB, clock=clock) as outbox:
        # Sent rows are gone, but their numbers are never handed out again.
        assert outbox.last_sequence("s01") == 3
        assert outbox.enqueue("s01", "t/a", _payload(10)).sequence == 4
        assert outbox.enqueue("s02", "t/b", _payload(10)).sequence == 2
        assert outbox.last_sequence("s03") == 0


def test_enqueue_stores_what_build_returns_and_pending_pages_in_id_order(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", MIB, clock=clock) as outbox:
        entries = [
            outbox.enqueue("s01", heartbeat_topic("s01"), heartbeat_builder("s01"))
            for _ in range(5)
        ]
        outbox.enqueue("s02", heartbeat_topic("s02"), heartbeat_builder("s02"))
        message = decode(entries[2].topic, entries[2].payload)
        assert message.envelope.sequence == entries[2].sequence == 3
        assert entries[2].created_at == clock()
        page = outbox.pending("s01", 2, after_id=entries[1].id)
        assert [e.id for e in page] == [entries[2].id, entries[3].id]
        assert page[0] == entries[2]
        assert outbox.newest_id("s01") == entries[4].id
        assert (outbox.depth(), outbox.depth("s01")) == (6, 5)


def test_failing_build_consumes_no_sequence(tmp_path: Path) -> None:
    def broken(sequence: int) -> bytes:
        raise ValueError("contract says no")

    with Outbox(tmp_path / "o.sqlite", MIB) as outbox:
        with pytest.raises(ValueError, match="contract says no"):
            outbox.enqueue("s01", "t", broken)
        assert outbox.depth() == 0
        assert outbox.enqueue("s01", "t", _payload(10)).sequence == 1


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from noisefleet_edge.agent.outbox import Outbox

    outbox = Outbox(Path(sys.argv[1]), 1 << 30)
    n = 0
    while True:
        n += 1
        outbox.stage("s01", {"n": n})
        if n % 3 == 0:
            entry = outbox.enqueue_staged("s01", "t/levels", lambda seq, recs: repr(recs).encode())
        else:
            entry = outbox.enqueue("s01", "t/events", lambda seq: b"%d" % seq)
        print(entry.sequence, n, flush=True)
    """
)


def test_sigkill_mid_stream_loses_no_committed_row_and_leaves_no_gap(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert child.stdout is not None
    reported: list[tuple[int, int]] = []
    for line in child.stdout:
        reported.append(tuple(map(int, line.split())))  # type: ignore[arg-type]
        if len(reported) == 300:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with Outbox(path, MIB) as outbox:
        stored = outbox.pending("s01", 100_000)
        sequences = [e.sequence for e in stored]
        # Every commit the child reported is there, and nothing beyond is half-written.
        assert {seq for seq, _ in reported} <= set(sequences)
        assert sequences == list(range(1, len(sequences) + 1))
        assert outbox.last_sequence("s01") == len(sequences)
        # Every level record staged before a report is in exactly one batch or still staged.
        seen = [
            record["n"]
            for entry in stored
            if entry.topic == "t/levels"
            for record in ast.literal_eval(entry.payload.decode())
        ]
        leftover = outbox.enqueue_staged("s01", "t/levels", lambda seq, recs: repr(recs).encode())
        if leftover is not None:
            seen += [record["n"] for record in ast.literal_eval(leftover.payload.decode())]
            assert leftover.sequence == len(sequences) + 1
        last_n = max(n for _, n in reported)
        assert len(seen) == len(set(seen))
        assert set(range(1, last_n + 1)) <= set(seen)
        assert outbox.enqueue("s01", "t", _payload(10)).sequence == outbox.last_sequence("s01")


def test_cap_drops_the_oldest_unsent_messages_of_any_sensor_and_counts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    row = 1000 + len("t/x") + ROW_OVERHEAD_BYTES
    path = tmp_path / "o.sqlite"
    with Outbox(path, 10 * row, clock=clock) as outbox, caplog.at_level(logging.WARNING):
        ids: dict[str, list[int]] = {}
        for sensor in ("s01", "s02", "s01", "s02", "s01"):
            ids.setdefault(sensor, []).append(outbox.enqueue(sensor, "t/x", _payload(1000)).id)
        for _ in range(8):
            outbox.enqueue("s03", "t/x", _payload(1000))
        # 13 rows into room for 10: the 3 oldest go (s01, s02, s01), nothing newer.
        assert outbox.depth() == 10
        assert outbox.size_bytes() <= 10 * row
        assert (outbox.dropped("s01"), outbox.dropped("s02"), outbox.dropped("s03")) == (2, 1, 0)
        assert outbox.dropped() == 3
        assert [e.id for e in outbox.pending("s01", 10)] == [ids["s01"][2]]
        assert [e.id for e in outbox.pending("s02", 10)] == [ids["s02"][1]]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning line, not one per dropped message"
    assert "dropped the 1 oldest" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    with Outbox(path, 10 * row) as outbox:
        assert outbox.dropped("s01") == 2, "the counter is persisted"
        assert outbox.size_bytes() == 10 * row, "the logical size is recomputed at open"


def test_an_oversized_message_is_kept_when_it_is_the_only_one(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", 500) as outbox:
        outbox.enqueue("s01", "t", _payload(100))
        big = outbox.enqueue("s01", "t", _payload(2000))
        assert [e.id for e in outbox.pending("s01", 10)] == [big.id]
        assert outbox.dropped("s01") == 1


def test_staged_records_become_one_message_atomically(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    records = [{"start": f"2026-11-24T09:00:0{i}Z", "laeq_db": 50.0 + i} for i in range(3)]

    def broken(sequence: int, batch: list[dict[str, Any]]) -> bytes:
        raise RuntimeError("encode failed")

    with Outbox(path, MIB) as outbox:
        assert outbox.enqueue_staged("s01", "t/levels", lambda s, r: b"") is None
        for record in records:
            outbox.stage("s01", record)
        outbox.stage("s02", {"other": True})
    with Outbox(path, MIB) as outbox:  # staged records survive a restart
        assert outbox.staged_count("s01") == 3
        with pytest.raises(RuntimeError, match="encode failed"):
            outbox.enqueue_staged("s01", "t/levels", broken)
        assert outbox.staged_count("s01") == 3
        assert outbox.depth() == 0
        entry = outbox.enqueue_staged(
            "s01", "t/levels", lambda seq, batch: json.dumps([seq, batch]).encode()
        )
        assert entry is not None
        assert json.loads(entry.payload) == [1, records]
        assert outbox.staged_count("s01") == 0
        assert outbox.staged_count("s02") == 1
        assert outbox.depth("s01") == 1


def test_stage_refuses_what_is_not_json(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite", MIB) as outbox:
        with pytest.raises(OutboxError, match="not JSON"):
            outbox.stage("s01", {"laeq_db": float("nan")})
        assert outbox.staged_count("s01") == 0


def test_dead_letters_are_counted_and_sent_rows_free_their_space(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, 64 * MIB) as outbox:
        entries = [outbox.enqueue("s01", "t", _payload(4000)) for _ in range(400)]
        full = outbox.file_bytes()
        assert outbox.dead_letter([entries[0].id], "refused by the broker (0x87)") == 1
        assert outbox.mark_sent([e.id for e in entries]) == 399
        assert outbox.mark_sent([entries[5].id]) == 0
        assert (outbox.depth(), outbox.dead_lettered("s01"), outbox.dropped("s01")) == (0, 1, 0)
        assert outbox.size_bytes() == 0
    # Freed pages are handed back (incremental vacuum), the WAL is truncated at close.
    assert path.stat().st_size < full / 4
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_a_corrupt_file_is_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"this is not a database" * 200)
    with pytest.raises(OutboxError) as caught:
        Outbox(path, MIB)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert "move it aside" in message


def test_an_unwritable_location_and_a_second_user_are_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutboxError, match="check that its directory exists"):
        Outbox(tmp_path / "file" / "outbox.sqlite", MIB)
    path = tmp_path / "o.sqlite"
    with Outbox(path, MIB), pytest.raises(OutboxError, match="in use by another process"):
        Outbox(path, MIB)


def test_a_closed_outbox_says_so(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", MIB)
    outbox.close()
    outbox.close()
    with pytest.raises(OutboxError, match="is closed"):
        outbox.depth()


def test_when_records_were_staged_survives_a_reopen_and_an_older_file_is_migrated(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path, MIB) as outbox:
        assert outbox.staged_at("s01") is None
        outbox.stage("s01", {"n": 1})
    # The file as an agent of outbox schema 1 left it: a staged record without its time.
    db = sqlite3.connect(path)
    db.executescript(
        "ALTER TABLE staged DROP COLUMN staged_at; PRAGMA user_version = 1;"
        """INSERT INTO staged (sensor, record) VALUES ('s02', '{"n": 2}');"""
    )
    db.close()
    moment = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    with Outbox(path, MIB, clock=lambda: moment) as outbox:
        assert outbox.staged_at("s02") is None
        assert outbox.staged_count("s01") == 1, "staged records are kept"
        outbox.stage("s02", {"n": 3})
        assert outbox.staged_at("s02") == moment
    with Outbox(path, MIB) as outbox:
        assert outbox.staged_at("s02") == moment
        entry = outbox.enqueue_staged("s02", "t/levels", lambda seq, recs: repr(recs).encode())
        assert entry is not None
        assert entry.payload == repr([{"n": 2}, {"n": 3}]).encode()
