"""Builders of valid contract messages for the outbox and link tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from noisefleet_core.contract.messages import HeartbeatMessage, encode, make_envelope
from noisefleet_core.contract.topics import topic

SITE = "park"
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return T0


def heartbeat_topic(sensor: str, site: str = SITE) -> str:
    return topic(site, sensor, "heartbeat")


def heartbeat_builder(
    sensor: str, uptime_s: float = 1.0, site: str = SITE
) -> Callable[[int], bytes]:
    """``build(sequence)`` for ``Outbox.enqueue``: a valid heartbeat; ``uptime_s`` marks it."""

    def build(sequence: int) -> bytes:
        envelope = make_envelope(site, sensor, sequence, T0, uuid.uuid4())
        return encode(
            HeartbeatMessage(
                envelope,
                uptime_s=uptime_s,
                cpu_percent=1.0,
                temperature_c=None,
                disk_free_bytes=1,
                outbox_depth=0,
                outbox_dropped=0,
                dropped_frames=0,
                model_name="m",
                model_sha256="0" * 64,
                feature_params_hash="fp-0",
                clock_synced=True,
                calibration_date=None,
                calibration_offset_db=None,
                source_error=None,
                source_failures=0,
                last_audio_at=None,
            )
        )

    return build
