"""Messages on the wire: typed values, ``encode`` to bytes and ``decode`` back, nothing else.

A message is an envelope (schema version, message UUID, site, sensor, per-sensor sequence number,
send time, replay flag) plus a body of one kind. On the wire it is one flat JSON object:
the envelope fields, ``kind`` and the body fields.

``encode``
  1. turns the message into its JSON object,
  2. checks it against the same field specs ``decode`` uses (a producer cannot emit what a
     consumer would refuse),
  3. serialises it canonically: UTF-8, keys sorted, no whitespace, no NaN or Infinity. Sorted
     keys make the bytes depend on the content only, so golden files and hashes are stable.

``decode``
  1. parses the topic (site, sensor, kind),
  2. parses the JSON (UTF-8, no duplicate keys, no NaN),
  3. checks the schema version first (so a newer producer gets a clear "unsupported version"),
     then the kind against the topic, then every field, then site and sensor against the topic,
  4. builds the typed message.
Any problem raises ``ContractError`` with a one-line reason naming the offending field.

Message ids and clocks are inputs: the core draws no random numbers and reads no clock.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from noisefleet_core.contract.fields import ContractError, describe
from noisefleet_core.contract.levels import format_timestamp, parse_timestamp
from noisefleet_core.contract.topics import (
    DATA_KINDS,
    SCHEMA_VERSION,
    DataKind,
    TopicError,
    check_id,
    parse_topic,
    topic,
)
from noisefleet_core.contract.wire_specs import BODY_FIELDS, message_spec

__all__ = [
    "ContractError",
    "Envelope",
    "EventsMessage",
    "HeartbeatMessage",
    "LevelsMessage",
    "Message",
    "StatusMessage",
    "decode",
    "encode",
    "make_envelope",
    "mark_replayed",
    "message_topic",
]

EventPhase = Literal["start", "end"]
StatusState = Literal["online", "degraded", "offline", "stopped"]


@dataclass(frozen=True)
class Envelope:
    """What every message carries besides its body."""

    schema_version: int
    message_id: str
    """UUID, lowercase with hyphens; the server's idempotency key."""
    site: str
    sensor: str
    sequence: int
    """Per sensor, +1 per message and never reused, so the server can see gaps."""
    sent_at: datetime
    """Aware, UTC, whole milliseconds (the wire precision)."""
    replayed: bool = False
    """True when the message is re-sent from the outbox backlog (Sparkplug's is_historical)."""

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise ContractError(
                f"schema_version {self.schema_version!r} is not supported; "
                f"this build writes {SCHEMA_VERSION}"
            )
        try:
            check_id(self.site, "site")
            check_id(self.sensor, "sensor")
        except TopicError as error:
            raise ContractError(str(error)) from error
        if _canonical_uuid(self.message_id) != self.message_id:
            raise ContractError(
                f"message_id {self.message_id!r} is not a lowercase hyphenated UUID"
            )
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int):
            raise ContractError(f"sequence must be an integer, got {describe(self.sequence)}")
        if self.sequence < 0:
            raise ContractError(f"sequence {self.sequence} must be >= 0")
        if self.sent_at.tzinfo is None or self.sent_at.utcoffset() is None:
            raise ContractError("sent_at must be timezone-aware (UTC)")
        if self.sent_at.utcoffset() or self.sent_at.microsecond % 1000:
            raise ContractError(
                "sent_at must be in UTC with whole milliseconds; build envelopes with "
                "make_envelope, which normalises it"
            )
        if not isinstance(self.replayed, bool):
            raise ContractError(f"replayed must be true or false, got {describe(self.replayed)}")


def _canonical_uuid(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def make_envelope(
    site: str,
    sensor: str,
    sequence: int,
    sent_at: datetime,
    message_id: uuid.UUID | str,
    replayed: bool = False,
) -> Envelope:
    """An envelope with ``sent_at`` converted to UTC and truncated to whole milliseconds."""
    if sent_at.tzinfo is None:
        raise ContractError("sent_at must be timezone-aware (UTC)")
    moment = sent_at.astimezone(UTC)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    text_id = str(message_id) if isinstance(message_id, uuid.UUID) else message_id
    return Envelope(SCHEMA_VERSION, text_id, site, sensor, sequence, moment, replayed)


@dataclass(frozen=True)
class LevelsMessage:
    """Level records (1 s by default), batched, per minute by default; oldest first."""

    KIND: ClassVar[DataKind] = "levels"
    envelope: Envelope
    records: tuple[dict[str, Any], ...]
    """Exactly as ``level_record_to_wire`` writes them (with ``energy_shares`` when settled)."""


@dataclass(frozen=True)
class EventsMessage:
    """Event reports, sent at the end of an event (and optionally at its start)."""

    KIND: ClassVar[DataKind] = "events"
    envelope: Envelope
    phase: EventPhase
    events: tuple[dict[str, Any], ...]
    """Exactly as ``contract.events.event_to_wire`` writes them."""


@dataclass(frozen=True)
class StatusMessage:
    """Retained: ``online`` at connect, ``offline`` as the Last Will, ``stopped`` at shutdown."""

    KIND: ClassVar[DataKind] = "status"
    envelope: Envelope
    state: StatusState
    reason: str | None = None


@dataclass(frozen=True)
class HeartbeatMessage:
    """The sensor's health, periodically."""

    KIND: ClassVar[DataKind] = "heartbeat"
    envelope: Envelope
    uptime_s: float
    cpu_percent: float
    temperature_c: float | None
    disk_free_bytes: int
    outbox_depth: int
    outbox_dropped: int
    dropped_frames: int
    model_name: str
    model_sha256: str
    feature_params_hash: str
    clock_synced: bool
    calibration_date: str | None
    """RFC 3339 full-date, e.g. ``2026-10-02``."""
    calibration_offset_db: float | None
    source_error: str | None
    """Why the sensor does not measure now (one line); None while it measures."""
    source_failures: int
    last_audio_at: str | None
    """RFC 3339 UTC timestamp (``format_timestamp``) of the last audio; None: never."""


Message = LevelsMessage | EventsMessage | StatusMessage | HeartbeatMessage

_CLASSES: dict[DataKind, type[Message]] = {
    cls.KIND: cls for cls in (LevelsMessage, EventsMessage, StatusMessage, HeartbeatMessage)
}


def message_topic(message: Message) -> str:
    """The topic a message is published on."""
    return topic(message.envelope.site, message.envelope.sensor, message.KIND)


def mark_replayed(message: Message) -> Message:
    """The same message (same id and sequence) flagged as re-sent from the backlog."""
    return replace(message, envelope=replace(message.envelope, replayed=True))


def to_wire(message: Message) -> dict[str, Any]:
    """The message's JSON object (checked against the contract)."""
    envelope = message.envelope
    wire: dict[str, Any] = {
        "schema_version": envelope.schema_version,
        "message_id": envelope.message_id,
        "site": envelope.site,
        "sensor": envelope.sensor,
        "sequence": envelope.sequence,
        "sent_at": format_timestamp(envelope.sent_at),
        "replayed": envelope.replayed,
        "kind": message.KIND,
    }
    for spec_field in fields(message):
        if spec_field.name != "envelope":
            value = getattr(message, spec_field.name)
            wire[spec_field.name] = list(value) if isinstance(value, tuple) else value
    message_spec(message.KIND).check(wire, message.KIND)
    return wire


def canonical_json(wire: dict[str, Any], kind: str, indent: int | None = None) -> bytes:
    """Canonical UTF-8 JSON of a checked wire object: sorted keys, compact (or indented for
    golden files), no NaN; ``ContractError`` if it is not serialisable."""
    separators = (",", ":") if indent is None else (",", ": ")
    try:
        text = json.dumps(
            wire,
            sort_keys=True,
            separators=separators,
            indent=indent,
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError) as error:
        raise ContractError(f"{kind}: not serialisable as JSON: {error}") from error
    return text.encode("utf-8")


def encode(message: Message, indent: int | None = None) -> bytes:
    """Canonical UTF-8 JSON: sorted keys, compact (or indented for golden files), no NaN.

    Raises ``ContractError`` if the message breaks the contract."""
    return canonical_json(to_wire(message), message.KIND, indent)


def _reject_constant(name: str) -> None:
    raise ContractError(f"payload: {name} is not allowed (JSON numbers must be finite)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # in C; the slow search runs only when a key repeats
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ContractError(f"payload: duplicate key {key!r}")
            seen.add(key)
    return out


def _parse_json(payload: bytes) -> object:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ContractError(f"payload: not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ContractError(
            f"payload: not JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None


def parse_payload(payload: bytes, kind: str, noun: str) -> dict[str, Any]:
    """The payload's JSON object once its schema version and its kind (``noun``: message or
    command) are the ones of ``kind`` (the topic's): checked first, so a newer producer gets a
    clear "unsupported version" before any field complaint."""
    data = _parse_json(payload)
    if not isinstance(data, dict):
        raise ContractError(f"payload: expected a JSON object, got {describe(data)}")
    if "schema_version" not in data:
        raise ContractError(f"{kind}: missing field(s) schema_version")
    version = data["schema_version"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise ContractError(
            f"{kind}.schema_version: unsupported version {version!r}; "
            f"this build reads {SCHEMA_VERSION}"
        )
    if data.get("kind") != kind:
        raise ContractError(
            f"{kind}.kind: {noun} kind {data.get('kind')!r} does not match the topic kind {kind!r}"
        )
    return data


def decode(topic_text: str, payload: bytes) -> Message:
    """The message published on ``topic_text``; ``ContractError`` for anything malformed."""
    try:
        parts = parse_topic(topic_text)
    except TopicError as error:
        raise ContractError(f"topic: {error}") from None
    kind: DataKind | None = next((k for k in DATA_KINDS if k == parts.kind), None)
    if kind is None:
        raise ContractError(
            f"topic: {parts.kind!r} topics carry commands, not messages of this contract"
        )
    data = parse_payload(payload, kind, "message")
    message_spec(kind).check(data, kind)
    for name in ("site", "sensor"):
        in_topic = getattr(parts, name)
        if data[name] != in_topic:
            raise ContractError(
                f"{kind}.{name}: {data[name]!r} does not match {in_topic!r} in the topic"
            )
    try:
        envelope = Envelope(
            schema_version=SCHEMA_VERSION,
            message_id=data["message_id"],
            site=data["site"],
            sensor=data["sensor"],
            sequence=data["sequence"],
            sent_at=parse_timestamp(data["sent_at"]),
            replayed=data["replayed"],
        )
    except ContractError as error:
        raise ContractError(f"{kind}: {error}") from None
    body: dict[str, Any] = {
        name: tuple(data[name]) if isinstance(data[name], list) else data[name]
        for name in BODY_FIELDS[kind]
    }
    return _CLASSES[kind](envelope, **body)
