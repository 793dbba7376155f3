"""Heartbeats for the Sensor page tests, through the server's own ingest: ten for
``tower/roof``, one a minute ending a minute before ``end`` (the fleet's own heartbeat at
``end`` is the latest), CPU 10 %, 20 % … 100 %, the fourth with its clock not synchronised,
the sixth with a source error, outbox backlog 0 … 9 and dropped frames growing 0, 5 … 45."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.server.alert_harness import heartbeat_payload, ingest

BEATS = 10


def seed_heartbeats(url: str, end: datetime) -> None:
    messages = []
    for k in range(BEATS):
        sent = end - timedelta(minutes=BEATS - k)
        messages.append(
            heartbeat_payload(
                sent,
                100 + k,
                site="tower",
                sensor="roof",
                cpu_percent=10.0 * (k + 1),
                outbox_depth=k,
                dropped_frames=5 * k,
                clock_synced=k != 3,
                source_error="microphone unplugged" if k == 5 else None,
                source_failures=1 if k == 5 else 0,
            )
        )
    ingest(url, messages)
