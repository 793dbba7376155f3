"""Building contract messages for server tests, publishing them, and waiting on conditions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from noisefleet_core.contract.levels import format_timestamp
from noisefleet_core.contract.topics import topic

EXAMPLES = Path(__file__).resolve().parents[2] / "contract" / "examples"
T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout_s: float = 30.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def level_record(
    start: datetime,
    laeq_db: float,
    duration_s: float = 1.0,
    histogram: tuple[int, Sequence[int]] | None = None,
    shares: dict[str, float] | None = None,
    coverage: float = 1.0,
    lafmax_db: float | None = None,
) -> dict[str, Any]:
    """A wire level record; its histogram defaults to 100 samples in LAeq's 0.1 dB bin."""
    first, counts = histogram or (int(laeq_db * 10), [100])
    record: dict[str, Any] = {
        "kind": "levels",
        "start": format_timestamp(start),
        "end": format_timestamp(start + timedelta(seconds=duration_s)),
        "duration_s": duration_s,
        "laeq_db": laeq_db,
        "lceq_db": laeq_db + 3,
        "lzeq_db": laeq_db + 6,
        "lafmax_db": laeq_db + 2 if lafmax_db is None else lafmax_db,
        "lafmin_db": laeq_db - 2,
        "lasmax_db": laeq_db + 1,
        "lae_db": laeq_db,
        "lcpeak_db": laeq_db + 15,
        "laf10_db": laeq_db + 1,
        "laf50_db": laeq_db,
        "laf90_db": laeq_db - 1,
        "laf_histogram": {"bin_width_db": 0.1, "first_bin": first, "counts": list(counts)},
        "coverage": coverage,
        "clipped_samples": 0,
        "invalid_samples": 0,
        "calibrated": True,
        "calibration_offset_db": 100.0,
        "sample_rate_hz": 48000,
    }
    if shares is not None:
        record["energy_shares"] = shares
    return record


def envelope(site: str, sensor: str, sequence: int, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "message_id": str(extra.pop("message_id", uuid.uuid4())),
        "site": site,
        "sensor": sensor,
        "sequence": sequence,
        "sent_at": format_timestamp(extra.pop("sent_at", datetime.now(UTC))),
        "replayed": extra.pop("replayed", False),
        "kind": kind,
        **extra,
    }


def levels_payload(
    site: str, sensor: str, sequence: int, records: list[dict[str, Any]], **extra: Any
) -> tuple[str, bytes]:
    data = envelope(site, sensor, sequence, "levels", records=records, **extra)
    return topic(site, sensor, "levels"), json.dumps(data).encode()


def event_record(
    event_id: str,
    label: str,
    start: datetime,
    duration_s: float,
    laeq_db: float = 70.0,
    part: int = 1,
    final: bool = True,
) -> dict[str, Any]:
    return {
        "kind": "event",
        "event_id": event_id,
        "label": label,
        "start": format_timestamp(start),
        "end": format_timestamp(start + timedelta(seconds=duration_s)),
        "duration_s": duration_s,
        "confidence_peak": 0.9,
        "confidence_mean": 0.8,
        "laeq_db": laeq_db,
        "lafmax_db": laeq_db + 3,
        "lae_db": laeq_db + 10,
        "runner_up": [{"label": "dog_bark", "score": 0.1}],
        "part": part,
        "final": final,
    }


def events_payload(
    site: str,
    sensor: str,
    sequence: int,
    events: list[dict[str, Any]],
    phase: str = "end",
    **extra: Any,
) -> tuple[str, bytes]:
    data = envelope(site, sensor, sequence, "events", phase=phase, events=events, **extra)
    return topic(site, sensor, "events"), json.dumps(data).encode()


def status_payload(site: str, sensor: str, sequence: int, state: str) -> tuple[str, bytes]:
    data = envelope(site, sensor, sequence, "status", state=state, reason=None)
    return topic(site, sensor, "status"), json.dumps(data).encode()


class Publisher:
    """A plain paho client publishing QoS 1 and waiting for each PUBACK."""

    def __init__(self, host: str, port: int) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic_text: str, payload: bytes, retain: bool = False) -> None:
        info = self.client.publish(topic_text, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"no PUBACK for {topic_text}"

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        infos = [self.client.publish(t, p, qos=1) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout=30)
            assert info.is_published()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
