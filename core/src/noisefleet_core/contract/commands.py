"""Commands between the server and an edge agent: typed values, ``encode_command`` and
``decode_command``, nothing else.

Three kinds, on ``noisefleet/v1/{site}/{sensor}/{kind}``:

- ``set`` (server → agent): change some of the sensor's tunable settings (``SetCommand``);
- ``state`` (agent → server, retained): the settings and model in force, and whether the last
  request was accepted, with the reason when not (``StateReport``);
- ``model`` (server → agent): one chunk of a model archive (``ModelChunk``); ``split_archive``
  cuts an archive into chunks of at most ``MAX_CHUNK_BYTES``.

On the wire a command is one flat JSON object: ``schema_version``, ``kind`` and the body fields.
There is no envelope: the topic is the address (site and sensor), the request or transfer UUID
identifies the command, and nothing needs a sequence (a retained state report replaces the last
one; a repeated set command is harmless).

``changes`` and ``settings`` are open objects here on purpose: which settings exist, their ranges
and the labels they may name depend on the edge build and on the model it runs. The edge's tuning
module is the one place that validates them (for its TOML config and for set commands alike) and
a rejected change comes back in a state report with its reason; a copy of that table here would
be a second source of truth to drift.

``encode_command`` builds the JSON object, checks it against the same field specs the decoder
uses and serialises it canonically (UTF-8, sorted keys, no whitespace, no NaN). The dataclasses
check themselves when built, so a producer cannot even hold a command a consumer would refuse.

``decode_command``
  1. parses the topic, which must be a command kind;
  2. checks the payload's size, nesting and number lengths (``contract.limits``), then parses
     the JSON (UTF-8, no duplicate keys, no NaN);
  3. checks the schema version, then the kind against the topic, then every field;
  4. builds the typed command (times: whole milliseconds; chunk data: strict base64).
Any problem raises ``ContractError`` with a one-line reason naming the offending field.

Ids and clocks are inputs: the core draws no random numbers and reads no clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar

from noisefleet_core.contract.fields import ContractError, describe
from noisefleet_core.contract.levels import format_timestamp, parse_timestamp
from noisefleet_core.contract.limits import check_command_limits
from noisefleet_core.contract.messages import canonical_json, parse_payload
from noisefleet_core.contract.topics import (
    COMMAND_KINDS,
    SCHEMA_VERSION,
    CommandKind,
    TopicError,
    parse_topic,
    topic,
)
from noisefleet_core.contract.wire_specs import MAX_CHUNK_BYTES, command_spec

__all__ = [
    "MAX_CHUNK_BYTES",
    "Command",
    "ContractError",
    "ModelChunk",
    "ModelInfo",
    "SetCommand",
    "StateReport",
    "command_topic",
    "decode_command",
    "encode_command",
    "split_archive",
]


def _utc_milliseconds(moment: object, path: str) -> datetime:
    """``moment`` in UTC, truncated to whole milliseconds (the wire precision)."""
    if not isinstance(moment, datetime):
        raise ContractError(f"{path}: expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ContractError(f"{path}: must be timezone-aware (UTC)")
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def _frozen_object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ContractError(f"{path}: expected an object, got {describe(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ContractError(f"{path}: keys must be strings, got {key!r}")
    return MappingProxyType(dict(value))


def _check_uuid(value: object, path: str) -> None:
    try:
        canonical = str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        canonical = None
    if canonical != value:
        raise ContractError(f"{path}: {value!r} is not a lowercase hyphenated UUID")


@dataclass(frozen=True)
class SetCommand:
    """Change some of a sensor's tunable settings; the agent answers with a ``StateReport``."""

    KIND: ClassVar[CommandKind] = "set"
    request_id: str
    """UUID, lowercase with hyphens; the state report that answers carries it."""
    issued_at: datetime
    """When the server issued the request (UTC, whole milliseconds once built)."""
    changes: Mapping[str, Any]
    """Setting name → new value; the agent applies all of them or none. Empty: only report."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "issued_at", _utc_milliseconds(self.issued_at, "set.issued_at"))
        object.__setattr__(self, "changes", _frozen_object(self.changes, "set.changes"))
        _check_uuid(self.request_id, "set.request_id")
        command_spec(self.KIND).check(_body(self), self.KIND)


@dataclass(frozen=True)
class ModelInfo:
    """The model an agent runs, as its state report describes it."""

    name: str
    """The model's name from its model.json."""
    sha256: str
    """SHA-256 of model.tflite (lowercase hex)."""
    feature_params_hash: str
    """Hash of the feature parameters the model was trained with."""
    version: str
    """The agent's name for this installed copy (its model store's version folder)."""
    installed_at: datetime | None
    """When the agent put it in its model store (the configured model is put there at the
    first start, so rollback has something to return to); None when it is not in a store."""

    def __post_init__(self) -> None:
        if self.installed_at is not None:
            moment = _utc_milliseconds(self.installed_at, "state.model.installed_at")
            object.__setattr__(self, "installed_at", moment)


@dataclass(frozen=True)
class StateReport:
    """The settings and model in force (retained), and the answer to the last request."""

    KIND: ClassVar[CommandKind] = "state"
    request_id: str | None
    """The set command's request_id or the model transfer's transfer_id answered; None for
    reports the agent makes on its own (at start-up, after a rollback)."""
    accepted: bool
    """Whether the request was applied (True for reports the agent makes on its own)."""
    reason: str | None
    """One line; required when ``accepted`` is False, else an optional note."""
    settings: Mapping[str, Any]
    """Every tunable setting now in force, as the edge's ``tuning_to_mapping`` writes them."""
    model: ModelInfo | None
    """The model in force; None when the agent runs without a classifier."""
    reported_at: datetime
    """When the agent made the report (UTC, whole milliseconds once built)."""

    def __post_init__(self) -> None:
        moment = _utc_milliseconds(self.reported_at, "state.reported_at")
        object.__setattr__(self, "reported_at", moment)
        object.__setattr__(self, "settings", _frozen_object(self.settings, "state.settings"))
        if self.request_id is not None:
            _check_uuid(self.request_id, "state.request_id")
        if self.model is not None and not isinstance(self.model, ModelInfo):
            raise ContractError(f"state.model: expected ModelInfo, got {type(self.model).__name__}")
        command_spec(self.KIND).check(_body(self), self.KIND)
        if self.accepted is False and self.reason is None:
            raise ContractError("state.reason: a rejected request needs a reason")


@dataclass(frozen=True)
class ModelChunk:
    """One piece of a model archive (a tar or tar.gz of a model folder)."""

    KIND: ClassVar[CommandKind] = "model"
    transfer_id: str
    """UUID of the transfer; every chunk of one archive carries the same one."""
    index: int
    """Position of this chunk, 0 to count - 1."""
    count: int
    """Number of chunks in the transfer."""
    archive_sha256: str
    """SHA-256 of the whole archive (lowercase hex); the agent verifies it before unpacking."""
    archive_bytes: int
    """Size of the whole archive; lets the agent refuse an oversized one at its first chunk."""
    data: bytes
    """This chunk's bytes: 1 to ``MAX_CHUNK_BYTES``; base64 on the wire."""

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise ContractError(f"model.data: expected bytes, got {type(self.data).__name__}")
        _check_uuid(self.transfer_id, "model.transfer_id")
        command_spec(self.KIND).check(_body(self), self.KIND)
        if not 1 <= len(self.data) <= MAX_CHUNK_BYTES:
            raise ContractError(
                f"model.data: holds {len(self.data)} bytes; a chunk carries 1 to "
                f"{MAX_CHUNK_BYTES} bytes"
            )
        if self.index >= self.count:
            raise ContractError(f"model.index: {self.index} must be below count {self.count}")
        if self.count > self.archive_bytes or self.archive_bytes > self.count * MAX_CHUNK_BYTES:
            raise ContractError(
                f"model.count: {self.count} chunk(s) of 1 to {MAX_CHUNK_BYTES} bytes cannot hold "
                f"archive_bytes {self.archive_bytes}"
            )
        if len(self.data) > self.archive_bytes:
            raise ContractError(
                f"model.data: {len(self.data)} bytes exceed archive_bytes {self.archive_bytes}"
            )


Command = SetCommand | StateReport | ModelChunk


def _body(command: Command) -> dict[str, Any]:
    """The command's JSON object (not yet checked)."""
    wire: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": command.KIND}
    if isinstance(command, SetCommand):
        wire["request_id"] = command.request_id
        wire["issued_at"] = format_timestamp(command.issued_at)
        wire["changes"] = dict(command.changes)
    elif isinstance(command, StateReport):
        model = command.model
        wire["request_id"] = command.request_id
        wire["accepted"] = command.accepted
        wire["reason"] = command.reason
        wire["settings"] = dict(command.settings)
        wire["model"] = None if model is None else {
            "name": model.name,
            "sha256": model.sha256,
            "feature_params_hash": model.feature_params_hash,
            "version": model.version,
            "installed_at": None
            if model.installed_at is None
            else format_timestamp(model.installed_at),
        }  # fmt: skip
        wire["reported_at"] = format_timestamp(command.reported_at)
    else:
        wire["transfer_id"] = command.transfer_id
        wire["index"] = command.index
        wire["count"] = command.count
        wire["archive_sha256"] = command.archive_sha256
        wire["archive_bytes"] = command.archive_bytes
        wire["data"] = base64.b64encode(command.data).decode("ascii")
    return wire


def command_topic(site: str, sensor: str, command: Command) -> str:
    """The topic a command for (or from) one sensor is published on."""
    return topic(site, sensor, command.KIND)


def encode_command(command: Command, indent: int | None = None) -> bytes:
    """Canonical UTF-8 JSON: sorted keys, compact (or indented for golden files), no NaN.

    Raises ``ContractError`` if the command breaks the contract (e.g. a NaN among changes)."""
    wire = _body(command)
    command_spec(command.KIND).check(wire, command.KIND)
    payload = canonical_json(wire, command.KIND, indent)
    check_command_limits(command.KIND, payload)  # what a consumer would refuse unread
    return payload


def _timestamp(data: dict[str, Any], kind: CommandKind, name: str) -> datetime:
    moment = parse_timestamp(data[name])
    if moment.microsecond % 1000:
        raise ContractError(f"{kind}.{name}: {data[name]!r} must have whole milliseconds")
    return moment


def _decode_data(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ContractError(f"model.data: not valid base64 ({error})") from None


def _build(kind: CommandKind, data: dict[str, Any]) -> Command:
    if kind == "set":
        return SetCommand(data["request_id"], _timestamp(data, kind, "issued_at"), data["changes"])
    if kind == "state":
        model_data = data["model"]
        model = None
        if model_data is not None:
            installed = model_data["installed_at"]
            model = ModelInfo(
                name=model_data["name"],
                sha256=model_data["sha256"],
                feature_params_hash=model_data["feature_params_hash"],
                version=model_data["version"],
                installed_at=None if installed is None else parse_timestamp(installed),
            )
        return StateReport(
            request_id=data["request_id"],
            accepted=data["accepted"],
            reason=data["reason"],
            settings=data["settings"],
            model=model,
            reported_at=_timestamp(data, kind, "reported_at"),
        )
    return ModelChunk(
        transfer_id=data["transfer_id"],
        index=data["index"],
        count=data["count"],
        archive_sha256=data["archive_sha256"],
        archive_bytes=data["archive_bytes"],
        data=_decode_data(data["data"]),
    )


def decode_command(topic_text: str, payload: bytes) -> Command:
    """The command published on ``topic_text``; ``ContractError`` for anything malformed."""
    try:
        parts = parse_topic(topic_text)
    except TopicError as error:
        raise ContractError(f"topic: {error}") from None
    kind: CommandKind | None = next((k for k in COMMAND_KINDS if k == parts.kind), None)
    if kind is None:
        raise ContractError(f"topic: {parts.kind!r} topics carry data messages, not commands")
    check_command_limits(kind, payload)
    data = parse_payload(payload, kind, "command")
    command_spec(kind).check(data, kind)
    return _build(kind, data)


def split_archive(
    archive: bytes, transfer_id: str, chunk_bytes: int = MAX_CHUNK_BYTES
) -> list[ModelChunk]:
    """The chunks that carry ``archive`` (server side, and tests), in order."""
    if isinstance(chunk_bytes, bool) or not 1 <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise ContractError(f"chunk_bytes must be 1 to {MAX_CHUNK_BYTES}, got {chunk_bytes!r}")
    if not archive:
        raise ContractError("model: the archive is empty")
    digest = hashlib.sha256(archive).hexdigest()
    pieces = [archive[at : at + chunk_bytes] for at in range(0, len(archive), chunk_bytes)]
    return [
        ModelChunk(transfer_id, index, len(pieces), digest, len(archive), piece)
        for index, piece in enumerate(pieces)
    ]
