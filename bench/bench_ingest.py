"""Benchmark: the server's ingest (mosquitto → noisefleet-server run → PostgreSQL) on loopback.

Starts its own PostgreSQL (fsync off, as the tests do: figures are CPU-bound, not disk-bound)
and mosquitto, then prints:
1. sustained rate with 1 and 2 workers: a backlog-free stream of level messages (60 1-s records
   each, realistic histograms) published as fast as the broker takes them, timed from the first
   publish to the last commit; level records/s and messages/s, and zero loss checked;
2. publish-to-committed latency p50/p99 at a fixed rate (half the 1-worker sustained rate, or
   ``--latency-rate``), from the message's ``sent_at`` to the ingest transaction's time;
3. backlog drain: messages published while every worker is down, then drained;
4. bytes on disk per sensor-day of 1-s records: the minute-row table (with its index) over the
   sensor-days stored, next to the same records as narrow rows (one row per record).
Every phase is bounded in count and time and the script stops by itself.

Run with ``.venv/bin/python bench/bench_ingest.py [--messages 600] [--sensors 20]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

from noisefleet_core.contract.levels import format_timestamp
from noisefleet_core.contract.topics import topic
from tests.support.mosquitto import Mosquitto
from tests.support.postgres import Postgres

SERVER = [sys.executable, "-m", "noisefleet_server.cli"]
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def make_message(sensor: int, minute: int, rng: random.Random, sent_at: datetime) -> bytes:
    """A levels message of 60 1-s records: a random walk of LAeq and a spread histogram."""
    start = T0 + timedelta(minutes=minute)
    level = 55.0 + 10 * rng.random()
    records = []
    for second in range(60):
        level = min(90.0, max(35.0, level + rng.gauss(0, 0.8)))
        spread = rng.randint(8, 40)
        first = int(level * 10) - spread // 2
        counts = [0] * spread
        for _ in range(100):
            counts[min(spread - 1, max(0, int(rng.gauss(spread / 2, spread / 5))))] += 1
        moment = start + timedelta(seconds=second)
        records.append(
            {
                "kind": "levels",
                "start": format_timestamp(moment),
                "end": format_timestamp(moment + timedelta(seconds=1)),
                "duration_s": 1.0,
                "laeq_db": round(level, 2),
                "lceq_db": round(level + 4.1, 2),
                "lzeq_db": round(level + 9.3, 2),
                "lafmax_db": round(level + 2.2, 2),
                "lafmin_db": round(level - 2.4, 2),
                "lasmax_db": round(level + 1.1, 2),
                "lae_db": round(level, 2),
                "lcpeak_db": round(level + 17.5, 2),
                "laf10_db": round(level + 1.3, 2),
                "laf50_db": round(level - 0.2, 2),
                "laf90_db": round(level - 1.8, 2),
                "laf_histogram": {"bin_width_db": 0.1, "first_bin": first, "counts": counts},
                "coverage": 1.0,
                "clipped_samples": 0,
                "invalid_samples": 0,
                "calibrated": True,
                "calibration_offset_db": 120.0,
                "sample_rate_hz": 48000,
                "energy_shares": {"background": 0.7, "car": 0.3},
            }
        )
    message = {
        "schema_version": 1,
        "message_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "site": "bench",
        "sensor": f"s{sensor:03d}",
        "sequence": minute + 1,
        "sent_at": format_timestamp(sent_at),
        "replayed": False,
        "kind": "levels",
        "records": records,
    }
    return json.dumps(message, separators=(",", ":")).encode()


class Publisher:
    def __init__(self, broker: Mosquitto) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, messages: list[tuple[str, bytes]], rate: float | None = None) -> None:
        infos = []
        start = time.monotonic()
        for index, (name, payload) in enumerate(messages):
            if rate is not None:
                delay = start + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            infos.append(self.client.publish(name, payload, qos=1))
        for info in infos:
            info.wait_for_publish(timeout=120)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Bench:
    def __init__(self, workdir: Path, sensors: int) -> None:
        self.postgres = Postgres(workdir / "pg")
        self.postgres.start()
        self.broker = Mosquitto(
            workdir / "broker",
            extra_config="max_queued_messages 1000000\nmax_inflight_messages 1000\n",
        )
        self.broker.start()
        self.workdir = workdir
        self.sensors = sensors
        self.rng = random.Random(2026)
        self.minute = 0
        self.workers: list[subprocess.Popen[bytes]] = []

    def new_database(self, name: str) -> str:
        url = self.postgres.create_database(name)
        env = {**os.environ, "NOISEFLEET_DATABASE_URL": url}
        subprocess.run([*SERVER, "migrate"], env=env, check=True, capture_output=True)
        self.url = url
        return url

    def start_workers(self, count: int, leave: bool = True) -> None:
        logs = [self.workdir / f"worker-{n}.log" for n in range(count)]
        before = [p.read_text().count("ingest connected") if p.exists() else 0 for p in logs]
        for n, path in enumerate(logs):
            env = {
                **os.environ,
                "NOISEFLEET_DATABASE_URL": self.url,
                "NOISEFLEET_MQTT_URL": f"mqtt://{self.broker.host}:{self.broker.port}",
                "NOISEFLEET_MQTT_CLIENT_ID": f"bench-{n}",
                "NOISEFLEET_ROLLUPS_INTERVAL_S": "5",
                # Each phase ends its workers' sessions, or the broker would keep sending their
                # share to them during the next phase.
                "NOISEFLEET_MQTT_LEAVE_ON_STOP": "true" if leave else "false",
            }
            with path.open("ab") as log:
                self.workers.append(
                    subprocess.Popen([*SERVER, "run"], env=env, stdout=log, stderr=log)
                )
        deadline = time.monotonic() + 30
        while any(
            p.read_text().count("ingest connected") <= b for p, b in zip(logs, before, strict=True)
        ):
            if time.monotonic() > deadline:
                raise SystemExit("workers did not connect")
            time.sleep(0.05)

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.wait(timeout=60)
        self.workers = []

    def messages(self, count: int, sent_at: datetime | None = None) -> list[tuple[str, bytes]]:
        out = []
        for _ in range(count):
            sensor = self.minute % self.sensors
            minute = self.minute // self.sensors
            payload = make_message(sensor, minute, self.rng, sent_at or datetime.now(UTC))
            out.append((topic("bench", f"s{sensor:03d}", "levels"), payload))
            self.minute += 1
        return out

    def stored(self) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT count(*) FROM noisefleet_store.messages").fetchone()
            return int(row[0]) if row else 0

    def wait_stored(self, expected: int, timeout_s: float = 300) -> float:
        deadline = time.monotonic() + timeout_s
        while (count := self.stored()) < expected:
            if time.monotonic() > deadline:
                with psycopg.connect(self.url) as conn:
                    dead = conn.execute(
                        "SELECT reason FROM noisefleet_store.dead_letters LIMIT 3"
                    ).fetchall()
                raise SystemExit(
                    f"only {count} of {expected} messages stored (dead letters: {dead})"
                )
            time.sleep(0.02)
        return time.monotonic()

    def close(self) -> None:
        self.stop_workers()
        self.broker.stop()
        self.postgres.stop(check=False)
        self.postgres.cleanup()


def sustained(bench: Bench, workers: int, count: int) -> float:
    bench.new_database(f"sustained{workers}")
    bench.start_workers(workers)
    warm = bench.messages(20)
    publisher = Publisher(bench.broker)
    publisher.publish(warm)
    bench.wait_stored(len(warm))
    batch = bench.messages(count)
    started = time.monotonic()
    publisher.publish(batch)
    published = time.monotonic()
    finished = bench.wait_stored(len(warm) + count)
    publisher.close()
    with psycopg.connect(bench.url) as conn:
        row = conn.execute("SELECT count(*) FROM noisefleet.levels").fetchone()
    records = int(row[0]) if row else 0
    assert records == (len(warm) + count) * 60, f"loss: {records} records stored"
    elapsed = finished - started
    print(
        f"sustained, {workers} worker(s): {count * 60 / elapsed:,.0f} level records/s, "
        f"{count / elapsed:,.0f} messages/s ({count} messages of 60 records in {elapsed:.1f} s,"
        f" zero loss; the publisher alone took {published - started:.1f} s)"
    )
    bench.stop_workers()
    return count * 60 / elapsed


def latency(bench: Bench, workers: int, rate: float, seconds: float) -> None:
    bench.new_database(f"latency{workers}")
    bench.start_workers(workers)
    publisher = Publisher(bench.broker)
    count = max(20, int(rate * seconds))
    prepared = bench.messages(count)
    # Re-stamp sent_at at publish time: build each payload just before sending it.
    start = time.monotonic()
    infos = []
    for index, (name, payload) in enumerate(prepared):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        data = json.loads(payload)
        data["sent_at"] = format_timestamp(datetime.now(UTC))
        infos.append(publisher.client.publish(name, json.dumps(data).encode(), qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
    bench.wait_stored(count)
    publisher.close()
    with psycopg.connect(bench.url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM received_at - sent_at) FROM noisefleet_store.messages"
        ).fetchall()
    values = sorted(float(r[0]) for r in rows)
    p50 = statistics.median(values)
    p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
    print(
        f"latency, {workers} worker(s) at {rate:,.0f} messages/s ({rate * 60:,.0f} records/s):"
        f" publish→committed p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    bench.stop_workers()


def drain(bench: Bench, workers: int, count: int) -> None:
    bench.new_database(f"drain{workers}")
    bench.start_workers(workers, leave=False)
    bench.stop_workers()  # sessions stay: the broker queues for them
    publisher = Publisher(bench.broker)
    publisher.publish(bench.messages(count))
    publisher.close()
    started = time.monotonic()
    bench.start_workers(workers)
    finished = bench.wait_stored(count)
    elapsed = finished - started
    print(
        f"backlog drain, {workers} worker(s): {count} queued messages in {elapsed:.1f} s"
        f" ({count / elapsed:,.0f} messages/s, {count * 60 / elapsed:,.0f} records/s,"
        " including start-up)"
    )
    bench.stop_workers()


def disk(bench: Bench) -> None:
    """Bytes per sensor-day: minute rows (what the server stores) vs narrow rows."""
    with psycopg.connect(bench.url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE noisefleet_store.level_minutes")
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'noisefleet_store.level_minutes'::regclass"
        ).fetchone()
        minute_bytes = int(row[0]) if row and row[0] else 0
        records_row = conn.execute("SELECT count(*) FROM noisefleet.levels").fetchone()
        records = int(records_row[0]) if records_row else 0
        conn.execute(
            "CREATE TABLE narrow AS SELECT s.sensor_id, l.start,"
            " (l.duration_s * 1000)::int AS duration_ms,"
            " (l.laeq_db * 100)::smallint AS laeq, (l.lafmax_db * 100)::smallint AS lafmax,"
            " (l.lafmin_db * 100)::smallint AS lafmin, (l.laf10_db * 100)::smallint AS laf10,"
            " (l.laf50_db * 100)::smallint AS laf50, (l.laf90_db * 100)::smallint AS laf90,"
            " (l.lceq_db * 100)::smallint AS lceq, (l.lcpeak_db * 100)::smallint AS lcpeak,"
            " (l.coverage * 10000)::smallint AS coverage, l.calibrated"
            " FROM noisefleet.levels l JOIN noisefleet_store.sensors s USING (site, sensor)"
        )
        conn.execute("ALTER TABLE narrow ADD PRIMARY KEY (sensor_id, start)")
        conn.execute("VACUUM ANALYZE narrow")
        row = conn.execute("SELECT pg_total_relation_size('narrow')").fetchone()
        narrow_bytes = int(row[0]) if row else 0
    sensor_days = records / 86400
    print(
        f"disk per sensor-day of 1-s records: minute rows {minute_bytes / sensor_days / 1e6:.2f} MB"
        f" (nibble-coded levels, per-minute aggregates, zlib histogram), narrow rows"
        f" {narrow_bytes / sensor_days / 1e6:.2f} MB (levels only, no histogram)"
        f" [{records:,} records measured]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600, help="per sustained run")
    parser.add_argument("--sensors", type=int, default=20)
    parser.add_argument("--latency-rate", type=float, help="messages/s for the latency runs")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        bench = Bench(Path(tmp), args.sensors)
        try:
            rate1 = sustained(bench, 1, args.messages)
            disk(bench)
            sustained(bench, 2, args.messages)
            rate = args.latency_rate or rate1 / 60 / 2
            latency(bench, 1, rate, args.latency_seconds)
            latency(bench, 2, rate, args.latency_seconds)
            drain(bench, 1, args.messages)
            drain(bench, 2, args.messages)
        finally:
            bench.close()


if __name__ == "__main__":
    main()
