from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from noisefleet_core.contract.commands import (
    MAX_CHUNK_BYTES,
    Command,
    ContractError,
    ModelChunk,
    ModelInfo,
    SetCommand,
    StateReport,
    command_topic,
    decode_command,
    encode_command,
    split_archive,
)
from noisefleet_core.contract.schema import json_schema
from noisefleet_core.contract.topics import topic
from tests.core.contract.helpers import EXAMPLES, schema_errors

COMMAND_KINDS = ("set", "state", "model")
REQUEST_ID = "5b2d7c1e-9a43-4f0b-8e61-2c7d9f30a4b8"
TRANSFER_ID = "9e1f0a6c-3b57-4d28-a4c9-71e5b0d82f36"
ISSUED_AT = datetime(2026, 11, 24, 10, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
SHA = "ab" * 32


def _topic(kind: str) -> str:
    return topic("riverside-park", "s01", kind)  # type: ignore[arg-type]


def _model_info() -> ModelInfo:
    return ModelInfo("m", SHA, "49963c8a724f23b6", "20261120T141503Z-6132cd65b66b", ISSUED_AT)


def _commands() -> list[Command]:
    return [
        SetCommand(REQUEST_ID, ISSUED_AT, {"gate_level_db": 50, "enabled_labels": ["siren"]}),
        StateReport(REQUEST_ID, True, None, {"interval_s": 1.0}, _model_info(), ISSUED_AT),
        ModelChunk(TRANSFER_ID, 1, 3, SHA, 150_000, b"\x00\x01binary\xff"),
    ]


def test_times_are_normalised_to_utc_milliseconds() -> None:
    command = SetCommand(REQUEST_ID, ISSUED_AT, {})
    assert command.issued_at == datetime(2026, 11, 24, 9, 30, 0, 123000, tzinfo=UTC)
    report = StateReport(None, True, None, {}, _model_info(), ISSUED_AT)
    assert report.model is not None
    assert report.model.installed_at == command.issued_at


@pytest.mark.parametrize("command", _commands(), ids=COMMAND_KINDS)
def test_encode_decode_round_trip(command: Command) -> None:
    payload = encode_command(command)
    assert b" " not in payload  # compact
    data = json.loads(payload)
    assert list(data) == sorted(data)
    assert data["schema_version"] == 1
    assert data["kind"] == command.KIND
    assert decode_command(command_topic("riverside-park", "s01", command), payload) == command
    assert schema_errors(data, json_schema(command.KIND)) == []


@pytest.mark.parametrize("kind", COMMAND_KINDS)
def test_golden_example_is_canonical_and_fits_the_schema(kind: str) -> None:
    raw = (EXAMPLES / f"{kind}.json").read_bytes()
    command = decode_command(_topic(kind), raw)
    assert kind == command.KIND
    assert encode_command(command, indent=2) + b"\n" == raw, (
        f"contract/examples/{kind}.json is not canonical; run: .venv/bin/python "
        "contract/regenerate.py"
    )
    assert schema_errors(json.loads(raw), json_schema(kind)) == []  # type: ignore[arg-type]


def test_decoded_state_report_is_typed() -> None:
    report = decode_command(_topic("state"), (EXAMPLES / "state.json").read_bytes())
    assert isinstance(report, StateReport)
    assert report.accepted is False
    assert report.reason is not None
    assert report.reason.startswith("unknown setting 'gate_level'")
    assert report.model is not None
    assert report.model.installed_at == datetime(2026, 11, 20, 14, 15, 3, tzinfo=UTC)
    assert report.settings["enabled_labels"] is None


def test_chunk_data_travels_as_base64() -> None:
    chunk = _commands()[2]
    data = json.loads(encode_command(chunk))
    assert base64.b64decode(data["data"]) == b"\x00\x01binary\xff"


def test_split_archive_cuts_whole_chunks_with_the_archive_hash() -> None:
    archive = bytes(range(256)) * 1000  # 256000 bytes
    chunks = split_archive(archive, TRANSFER_ID)
    assert [len(c.data) for c in chunks] == [MAX_CHUNK_BYTES] * 3 + [256000 - 3 * MAX_CHUNK_BYTES]
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    assert {c.count for c in chunks} == {4}
    assert {c.archive_sha256 for c in chunks} == {hashlib.sha256(archive).hexdigest()}
    assert {c.archive_bytes for c in chunks} == {len(archive)}
    assert b"".join(c.data for c in chunks) == archive
    small = split_archive(b"abcdefg", TRANSFER_ID, chunk_bytes=3)
    assert [c.data for c in small] == [b"abc", b"def", b"g"]
    for chunk in chunks:  # each fits a broker's limits comfortably
        assert len(encode_command(chunk)) < 90 * 1024


@pytest.mark.parametrize(
    ("chunk_bytes", "archive", "reason"),
    [
        (0, b"x", "chunk_bytes must be 1 to 65536"),
        (MAX_CHUNK_BYTES + 1, b"x", "chunk_bytes must be 1 to 65536"),
        (10, b"", "the archive is empty"),
    ],
)
def test_split_archive_refuses_bad_input(chunk_bytes: int, archive: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        split_archive(archive, TRANSFER_ID, chunk_bytes)


def _payload(kind: str, change: Any) -> bytes:
    data = json.loads((EXAMPLES / f"{kind}.json").read_bytes())
    change(data)
    return json.dumps(data).encode()


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[part]
        target[last] = value

    return change


def _drop(name: str) -> Any:
    return lambda data: data.pop(name)


# (kind, change, expected part of the error); each also breaks the exported schema.
SCHEMA_CASES = [
    ("set", _drop("request_id"), "set: missing field(s) request_id"),
    ("set", _set("request_id", "not-a-uuid"), "set.request_id: 'not-a-uuid' does not match"),
    ("set", _set("request_id", REQUEST_ID.upper()), "set.request_id"),
    ("set", _set("issued_at", "2026-11-24T09:30:00"), "set.issued_at: "),
    ("set", _set("issued_at", 1764000000), "set.issued_at: expected an RFC 3339 UTC timestamp"),
    ("set", _set("changes", [1]), "set.changes: expected an object, got array"),
    ("set", _set("changes", None), "set.changes: expected an object, got null"),
    ("set", _set("extra", 1), "set: unknown field(s) extra"),
    ("state", _drop("settings"), "state: missing field(s) settings"),
    ("state", _set("accepted", "no"), "state.accepted: expected true or false, got string"),
    ("state", _set("reason", "two\nlines"), "state.reason: 'two\\nlines' does not match"),
    ("state", _set("reason", ""), "state.reason: '' does not match"),
    ("state", _set("request_id", 7), "state.request_id: expected a string, got integer"),
    ("state", _set("settings", "all"), "state.settings: expected an object, got string"),
    ("state", _set("model.sha256", "abc"), "state.model.sha256: 'abc' does not match"),
    ("state", _set("model.name", ""), "state.model.name: must have at least 1 character"),
    ("state", _set("model.installed_at", "2026-11-20"), "state.model.installed_at: "),
    ("state", lambda d: d["model"].pop("version"), "state.model: missing field(s) version"),
    ("state", _set("model", "default"), "state.model: expected an object, got string"),
    ("state", _set("reported_at", None), "state.reported_at: expected an RFC 3339"),
    ("model", _drop("data"), "model: missing field(s) data"),
    ("model", _set("index", -1), "model.index: -1 is below the minimum 0"),
    ("model", _set("index", 0.5), "model.index: expected an integer, got number"),
    ("model", _set("count", 0), "model.count: 0 is below the minimum 1"),
    ("model", _set("count", True), "model.count: expected an integer, got boolean"),
    ("model", _set("archive_bytes", 0), "model.archive_bytes: 0 is below the minimum 1"),
    ("model", _set("archive_sha256", "AB" * 32), "model.archive_sha256: 'ABAB"),
    ("model", _set("transfer_id", "x"), "model.transfer_id: 'x' does not match"),
    ("model", _set("data", "not base64!"), "model.data: 'not base64!' does not match"),
    ("model", _set("data", ""), "model.data: must have at least 4 character(s)"),
    ("model", _set("data", 42), "model.data: expected a string, got integer"),
]


@pytest.mark.parametrize(("kind", "change", "reason"), SCHEMA_CASES)
def test_malformed_commands_are_refused_by_decoder_and_schema(
    kind: str, change: Any, reason: str
) -> None:
    payload = _payload(kind, change)
    with pytest.raises(ContractError) as caught:
        decode_command(_topic(kind), payload)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
    assert schema_errors(json.loads(payload), json_schema(kind)) != []  # type: ignore[arg-type]


GOOD_SET = (EXAMPLES / "set.json").read_bytes()


@pytest.mark.parametrize(
    ("topic_text", "payload", "reason"),
    [
        (_topic("set"), b"{not json", "payload: not JSON"),
        (_topic("set"), b"\xff", "payload: not UTF-8"),
        (_topic("set"), b"[]", "payload: expected a JSON object, got array"),
        (_topic("set"), b'{"kind": "set", "kind": "set"}', "duplicate key 'kind'"),
        (_topic("set"), GOOD_SET.replace(b"50.0", b"NaN"), "NaN is not allowed"),
        (_topic("set"), _payload("set", _set("schema_version", 2)), "unsupported version 2"),
        (_topic("set"), _payload("set", _set("schema_version", True)), "unsupported version"),
        (_topic("set"), _payload("set", _drop("schema_version")), "missing field(s) schema_vers"),
        (_topic("set"), (EXAMPLES / "state.json").read_bytes(), "'state' does not match"),
        (_topic("model"), GOOD_SET, "model.kind: command kind 'set' does not match"),
        (_topic("levels"), GOOD_SET, "'levels' topics carry data messages, not commands"),
        ("noisefleet/v1/a/set", GOOD_SET, "topic: topic 'noisefleet/v1/a/set' is not"),
        (
            _topic("set"),
            _payload("set", _set("issued_at", "2026-11-24T09:30:00.0005Z")),
            "set.issued_at: '2026-11-24T09:30:00.0005Z' must have whole milliseconds",
        ),
        (
            _topic("state"),
            _payload("state", _set("reason", None)),
            "state.reason: a rejected request needs a reason",
        ),
        (_topic("model"), _payload("model", _set("index", 2)), "model.index: 2 must be below"),
        (
            _topic("model"),
            _payload("model", _set("archive_bytes", 200_000)),
            "model.count: 2 chunk(s) of 1 to 65536 bytes cannot hold archive_bytes 200000",
        ),
        (
            _topic("model"),
            _payload("model", _set("archive_bytes", 10)),
            "model.data: 37 bytes exceed archive_bytes 10",
        ),
        (
            _topic("model"),
            _payload("model", _set("data", base64.b64encode(bytes(70_000)).decode())),
            "model.data: holds 70000 bytes; a chunk carries 1 to 65536 bytes",
        ),
    ],
)
def test_malformed_input_outside_the_schema(topic_text: str, payload: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode_command(topic_text, payload)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: SetCommand("x", ISSUED_AT, {}), "set.request_id: 'x' is not a lowercase"),
        (lambda: SetCommand(REQUEST_ID, datetime(2026, 1, 1), {}), "must be timezone-aware"),
        (lambda: SetCommand(REQUEST_ID, "today", {}), "set.issued_at: expected a datetime"),
        (lambda: SetCommand(REQUEST_ID, ISSUED_AT, {1: 2}), "set.changes: keys must be strings"),
        (lambda: StateReport(None, False, None, {}, None, ISSUED_AT), "needs a reason"),
        (lambda: StateReport(None, True, "a\nb", {}, None, ISSUED_AT), "state.reason"),
        (lambda: StateReport(None, True, None, {}, "m", ISSUED_AT), "expected ModelInfo"),
        (lambda: ModelChunk(TRANSFER_ID, 0, 1, SHA, 3, "abc"), "model.data: expected bytes"),
        (lambda: ModelChunk(TRANSFER_ID, 0, 1, SHA, 3, b""), "model.data: must have at least 4"),
        (lambda: ModelChunk(TRANSFER_ID, 1, 1, SHA, 3, b"abc"), "must be below count 1"),
    ],
)
def test_invalid_commands_cannot_be_built(build: Any, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        build()


def test_encode_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ContractError, match="set: not serialisable as JSON"):
        encode_command(SetCommand(REQUEST_ID, ISSUED_AT, {"gate_level_db": float("nan")}))
    with pytest.raises(ContractError, match="set: not serialisable as JSON"):
        encode_command(SetCommand(REQUEST_ID, ISSUED_AT, {"labels": {"a", "b"}}))


def test_commands_are_frozen_copies() -> None:
    changes = {"gate_level_db": 50}
    command = SetCommand(REQUEST_ID, ISSUED_AT, changes)
    changes["gate_level_db"] = 99
    assert command.changes["gate_level_db"] == 50
    with pytest.raises(TypeError):
        command.changes["gate_level_db"] = 1  # type: ignore[index]
