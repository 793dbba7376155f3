"""Sort what arrives on the data topics into accepted messages and dead letters (pure).

``classify`` never raises: whatever a remote party sends becomes either an ``Accepted`` typed
message or a ``Rejected`` with a one-line reason (oversized, not JSON, nested too deeply, a
contract violation, dated too far in the future...). The payload of a rejected message is kept
(truncated, as text with undecodable bytes escaped) for the dead-letter table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from noisefleet_core.contract.messages import (
    ContractError,
    EventsMessage,
    LevelsMessage,
    Message,
    decode,
)
from noisefleet_core.contract.records import (
    EventRecordIn,
    LevelRecordIn,
    event_record,
    level_record,
)


@dataclass(frozen=True)
class Accepted:
    message: Message
    levels: tuple[LevelRecordIn, ...] = ()
    events: tuple[EventRecordIn, ...] = ()


@dataclass(frozen=True)
class Rejected:
    topic: str
    reason: str
    payload: str
    payload_bytes: int


def payload_text(payload: bytes, limit: int) -> str:
    """What the dead-letter table keeps: at most ``limit`` bytes, as text (PostgreSQL text
    cannot hold NUL; undecodable bytes are escaped)."""
    text = payload[:limit].decode("utf-8", errors="backslashreplace")
    return text.replace("\x00", "\\x00")


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def classify(
    topic: str,
    payload: bytes,
    received_at: datetime,
    *,
    max_payload_bytes: int,
    max_future_s: float,
    keep_bytes: int,
) -> Accepted | Rejected:
    """An accepted, typed message, or why it was refused (see the module docstring)."""

    def reject(reason: str) -> Rejected:
        return Rejected(topic, _one_line(reason), payload_text(payload, keep_bytes), len(payload))

    if len(payload) > max_payload_bytes:
        return reject(f"oversized: {len(payload)} bytes, the limit is {max_payload_bytes}")
    try:
        message = decode(topic, payload)
    except ContractError as error:
        return reject(str(error))
    except RecursionError:
        return reject("payload: nested too deeply")
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        return reject(f"payload: {error}")
    horizon = received_at + timedelta(seconds=max_future_s)
    if message.envelope.sent_at > horizon:
        return reject(
            f"sent_at {message.envelope.sent_at.isoformat()} is more than {max_future_s:g} s "
            "ahead of the server's clock"
        )
    try:
        if isinstance(message, LevelsMessage):
            levels = tuple(level_record(r) for r in message.records)
            late = next((r for r in levels if r.start > horizon), None)
            if late is not None:
                return reject(f"records: start {late.start.isoformat()} is in the future")
            bad = next((r for r in levels if r.end < r.start), None)
            if bad is not None:
                return reject(f"records: end {bad.end.isoformat()} is before its start")
            return Accepted(message, levels=levels)
        if isinstance(message, EventsMessage):
            events = tuple(event_record(e) for e in message.events)
            late_event = next((e for e in events if e.start > horizon), None)
            if late_event is not None:
                return reject(f"events: start {late_event.start.isoformat()} is in the future")
            return Accepted(message, events=events)
    except (ContractError, ValueError) as error:
        return reject(str(error))
    return Accepted(message)
