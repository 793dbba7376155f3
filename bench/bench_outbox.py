"""Benchmark: the edge outbox and the MQTT link against a local mosquitto.

Prints, as medians of 3 runs:
1. the sustained ``Outbox.enqueue`` rate for ~1 KB messages (WAL, ``synchronous=FULL``: one
   fsync per message);
2. the send rate of a pre-filled backlog (replayed: decode, flag, encode) until every row is
   acknowledged (PUBACK) and deleted;
3. the live enqueue -> PUBACK rate: a producer thread enqueues while the link sends, timed from
   the first enqueue to the last row deleted.

Run with ``.venv/bin/python bench/bench_outbox.py [--messages 2000]`` (needs mosquitto).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

from noisefleet_core.contract.messages import HeartbeatMessage, encode, make_envelope
from noisefleet_core.contract.topics import topic
from noisefleet_edge.agent.mqtt_link import LinkSettings, SensorLink
from noisefleet_edge.agent.outbox import Outbox
from tests.support.mosquitto import Mosquitto

SITE, SENSOR = "bench", "s01"
TOPIC = topic(SITE, SENSOR, "heartbeat")
RUNS = 3


def build(sequence: int) -> bytes:
    """A valid heartbeat of about 1 KB."""
    envelope = make_envelope(SITE, SENSOR, sequence, datetime.now(UTC), uuid.uuid4())
    return encode(
        HeartbeatMessage(
            envelope, uptime_s=1.0, cpu_percent=1.0, temperature_c=None, disk_free_bytes=1,
            outbox_depth=0, outbox_dropped=0, dropped_frames=0, model_name="m" * 560,
            model_sha256="0" * 64, feature_params_hash="fp-0", clock_synced=True,
            calibration_date=None, calibration_offset_db=None, source_error=None,
            source_failures=0, last_audio_at=None,
        )
    )  # fmt: skip


def enqueue_rate(directory: Path, count: int) -> float:
    with Outbox(directory / f"enqueue-{uuid.uuid4().hex}.sqlite", 1 << 30) as outbox:
        started = time.perf_counter()
        for _ in range(count):
            outbox.enqueue(SENSOR, TOPIC, build)
        return count / (time.perf_counter() - started)


async def _until_empty(
    outbox: Outbox, link: SensorLink, producer: Callable[[], None] | None
) -> float:
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    while not link.stats.connected:
        await asyncio.sleep(0.005)
    started = time.perf_counter()
    thread = None
    if producer is not None:
        thread = threading.Thread(target=producer)
        thread.start()
    while (thread is not None and thread.is_alive()) or outbox.depth(SENSOR):
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return elapsed


def send_rate(broker: Mosquitto, directory: Path, count: int, live: bool) -> float:
    path = directory / f"send-{uuid.uuid4().hex}.sqlite"
    settings = LinkSettings(broker.host, f"{SITE}.{SENSOR}", port=broker.port, tls=False)
    with Outbox(path, 1 << 30) as outbox:
        link = SensorLink(settings, SITE, SENSOR, outbox, None, lambda: datetime.now(UTC))

        def produce() -> None:
            for _ in range(count):
                outbox.enqueue(SENSOR, TOPIC, build)
                link.notify()

        if not live:
            produce()
        elapsed = asyncio.run(_until_empty(outbox, link, produce if live else None))
        assert link.stats.published == count, link.stats
        return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    print(f"payload: {len(build(1))} bytes, {args.messages} messages per run, median of {RUNS}")
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        rates = [enqueue_rate(directory, args.messages) for _ in range(RUNS)]
        print(f"outbox enqueue (synchronous=FULL):        {statistics.median(rates):8.0f} msg/s")
        with Mosquitto(directory / "broker") as broker:
            backlog = [send_rate(broker, directory, args.messages, live=False) for _ in range(RUNS)]
            print(
                f"backlog -> PUBACK (replayed), QoS 1:      {statistics.median(backlog):8.0f} msg/s"
            )
            live = [send_rate(broker, directory, args.messages, live=True) for _ in range(RUNS)]
            print(f"live enqueue -> PUBACK, QoS 1:            {statistics.median(live):8.0f} msg/s")


if __name__ == "__main__":
    main()
