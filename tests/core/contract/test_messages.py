from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from noisefleet_core.contract.messages import (
    ContractError,
    EventsMessage,
    HeartbeatMessage,
    LevelsMessage,
    Message,
    StatusMessage,
    decode,
    encode,
    make_envelope,
    mark_replayed,
    message_topic,
)
from noisefleet_core.contract.schema import json_schema, schema_files
from noisefleet_core.contract.topics import topic
from tests.core.contract.helpers import (
    KINDS,
    SCHEMAS,
    example_data,
    example_path,
    example_topic,
    schema_errors,
)

MESSAGE_ID = uuid.UUID("12345678-1234-4234-8234-123456789abc")
SENT_AT = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))


def _envelope(sequence: int = 7) -> Any:
    return make_envelope("park", "s01", sequence, SENT_AT, MESSAGE_ID)


def _messages() -> list[Message]:
    levels = example_data("levels")["records"]
    events = example_data("events")["events"]
    return [
        LevelsMessage(_envelope(), tuple(levels)),
        EventsMessage(_envelope(), "start", tuple(events)),
        StatusMessage(_envelope(), "offline", "connection lost"),
        HeartbeatMessage(
            _envelope(),
            12.5,
            3.0,
            None,
            10**9,
            0,
            0,
            2,
            "m",
            "0" * 64,
            "h",
            False,
            None,
            None,
            "no-audio",
            1,
            "2026-11-24T09:00:00.000Z",
        ),
    ]


def test_make_envelope_normalises_time_to_utc_milliseconds() -> None:
    envelope = _envelope()
    assert envelope.sent_at == datetime(2026, 11, 24, 9, 0, 0, 123000, tzinfo=UTC)
    assert envelope.message_id == str(MESSAGE_ID)
    assert envelope.schema_version == 1
    assert not envelope.replayed


@pytest.mark.parametrize("message", _messages(), ids=KINDS)
def test_encode_decode_round_trip(message: Message) -> None:
    payload = encode(message)
    assert b" " not in payload.replace(b"connection lost", b"")  # compact
    assert list(json.loads(payload)) == sorted(json.loads(payload))  # sorted keys
    assert decode(message_topic(message), payload) == message
    replayed = mark_replayed(message)
    assert decode(message_topic(message), encode(replayed)).envelope.replayed
    assert replayed.envelope.message_id == message.envelope.message_id


@pytest.mark.parametrize("kind", KINDS)
def test_golden_example_is_canonical(kind: str) -> None:
    raw = example_path(kind).read_bytes()
    message = decode(example_topic(kind), raw)
    assert kind == message.KIND
    assert encode(message, indent=2) + b"\n" == raw, (
        f"contract/examples/{kind}.json is not canonical; run: .venv/bin/python "
        "contract/regenerate.py"
    )
    assert json.loads(encode(message)) == json.loads(raw)


@pytest.mark.parametrize("kind", KINDS)
def test_golden_example_validates_against_the_exported_schema(kind: str) -> None:
    assert schema_errors(example_data(kind), json_schema(kind)) == []  # type: ignore[arg-type]


def test_committed_schema_files_are_up_to_date() -> None:
    expected = schema_files()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.schema.json")}
    assert committed == expected, (
        "contract/schema/ differs from noisefleet_core.contract.schema; if the contract change "
        "is intended, run: .venv/bin/python contract/regenerate.py and commit the result"
    )


def test_schema_documents_declare_the_dialect() -> None:
    for kind in KINDS:
        document = json_schema(kind)  # type: ignore[arg-type]
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["properties"]["kind"] == {
            "const": kind,
            "description": "The message kind, as in the topic.",
        }


def test_producers_records_fit_the_contract() -> None:
    """The records level_record_to_wire and event_to_wire write pass the decoder unchanged."""
    from noisefleet_core.acoustics.meter import MeterSettings, SoundLevelMeter
    from noisefleet_core.contract.events import event_to_wire
    from noisefleet_core.contract.levels import level_record_to_wire
    from noisefleet_core.events.detector import DetectedEvent

    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    meter = SoundLevelMeter(MeterSettings(sample_rate_hz=16000))
    noise = np.random.default_rng(1).normal(0, 0.05, 32000)
    records = [level_record_to_wire(r, start, "mic", 0) for r in meter.process(noise)]
    assert len(records) == 2
    event = DetectedEvent(
        event_id="e1", label="car", start_frame=0, end_frame=10, start_s=0.0, end_s=1.0,
        duration_s=1.0, confidence_peak=0.9, confidence_mean=0.7,
        runner_up=(("truck", 0.1),), laeq_db=60.0, lafmax_db=65.0, lae_db=60.0, part=1,
        final=True,
    )  # fmt: skip
    events = [event_to_wire(event, start, None, None)]
    for message in (
        LevelsMessage(_envelope(), tuple(records)),
        EventsMessage(_envelope(), "end", tuple(events)),
    ):
        assert decode(message_topic(message), encode(message)) == message


def _payload(kind: str, change: Any) -> bytes:
    data = example_data(kind)
    change(data)
    return json.dumps(data).encode()


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return change


def _drop(name: str) -> Any:
    return lambda data: data.pop(name)


# (kind, change, expected part of the error); each also breaks the exported schema.
SCHEMA_CASES = [
    ("levels", _drop("message_id"), "missing field(s) message_id"),
    ("levels", _set("sequence", -1), "sequence: -1 is below the minimum 0"),
    ("levels", _set("sequence", 1.5), "sequence: expected an integer, got number"),
    ("levels", _set("sequence", True), "sequence: expected an integer, got boolean"),
    ("levels", _set("message_id", "not-a-uuid"), "message_id: 'not-a-uuid' does not match"),
    ("levels", _set("message_id", "3F2C9A1E-8B7D-4C5E-9F10-2A3B4C5D6E7F"), "message_id"),
    ("levels", _set("sent_at", "2026-11-24T09:15:00"), "a time zone is required"),
    ("levels", _set("sent_at", "2026-11-24T10:15:00+01:00"), "must be Z"),
    ("levels", _set("sent_at", 1764000000), "expected an RFC 3339 UTC timestamp string"),
    ("levels", _set("replayed", "no"), "replayed: expected true or false, got string"),
    ("levels", _set("extra", 1), "unknown field(s) extra"),
    ("levels", _set("records", []), "records: must hold at least 1 item(s)"),
    ("levels", _set("records.0.laeq_db", "58"), "records[0].laeq_db: expected a number"),
    ("levels", _set("records.1.coverage", 1.5), "records[1].coverage: 1.5 is above"),
    ("levels", _set("records.0.kind", "event"), "records[0].kind: expected 'levels'"),
    ("levels", _set("records.0.laf_histogram.counts", [1, -2]), "counts[1]: -2 is below"),
    ("levels", _set("records.0.energy_shares", {"car": "all"}), "energy_shares.car"),
    ("levels", _set("records.0.start", "yesterday"), "records[0].start: 'yesterday'"),
    ("levels", lambda d: d["records"][0].pop("lae_db"), "missing field(s) lae_db"),
    ("events", _set("phase", "middle"), "phase: 'middle' is not one of start, end"),
    ("events", _set("events.0.part", 0), "events[0].part: 0 is below the minimum 1"),
    ("events", _set("events.0.runner_up", [{"label": "x"}]), "runner_up[0]: missing"),
    ("events", _set("events.0.final", None), "events[0].final: expected true or false"),
    ("status", _set("state", "sleeping"), "state: 'sleeping' is not one of"),
    ("status", _drop("reason"), "missing field(s) reason"),
    ("heartbeat", _set("model_sha256", "abc"), "model_sha256: 'abc' does not match"),
    ("heartbeat", _set("calibration_date", "02/10/2026"), "is not an RFC 3339 date"),
    ("heartbeat", _set("disk_free_bytes", -5), "disk_free_bytes: -5 is below"),
    ("heartbeat", _set("clock_synced", 1), "clock_synced: expected true or false, got integer"),
    ("heartbeat", _set("site", "bad/site"), "site: 'bad/site' does not match"),
]


@pytest.mark.parametrize(("kind", "change", "reason"), SCHEMA_CASES)
def test_malformed_messages_are_refused_by_decoder_and_schema(
    kind: str, change: Any, reason: str
) -> None:
    payload = _payload(kind, change)
    with pytest.raises(ContractError) as caught:
        decode(example_topic(kind), payload)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
    assert schema_errors(json.loads(payload), json_schema(kind)) != []  # type: ignore[arg-type]


LEVELS_TOPIC = topic("riverside-park", "s01", "levels")
GOOD_LEVELS = example_path("levels").read_bytes()


@pytest.mark.parametrize(
    ("topic_text", "payload", "reason"),
    [
        (LEVELS_TOPIC, b"{not json", "payload: not JSON"),
        (LEVELS_TOPIC, b"\xff\xfe", "payload: not UTF-8"),
        (LEVELS_TOPIC, b"[1, 2]", "payload: expected a JSON object, got array"),
        (LEVELS_TOPIC, b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (LEVELS_TOPIC, GOOD_LEVELS.replace(b"58.42", b"NaN"), "NaN is not allowed"),
        (LEVELS_TOPIC, _payload("levels", _set("schema_version", 2)), "unsupported version 2"),
        (LEVELS_TOPIC, _payload("levels", _drop("schema_version")), "missing field(s) schema"),
        (LEVELS_TOPIC, _payload("events", lambda d: None), "'events' does not match the topic"),
        (topic("other-site", "s01", "levels"), GOOD_LEVELS, "does not match 'other-site'"),
        (topic("riverside-park", "s02", "levels"), GOOD_LEVELS, "sensor: 's01' does not match"),
        (topic("riverside-park", "s01", "set"), GOOD_LEVELS, "'set' topics carry commands"),
        ("noisefleet/v1/a/b", GOOD_LEVELS, "topic: topic 'noisefleet/v1/a/b' is not"),
        (
            LEVELS_TOPIC,
            _payload("levels", _set("sent_at", "2026-11-24T09:15:00.0123Z")),
            "whole milliseconds",
        ),
    ],
)
def test_malformed_input_outside_the_schema(topic_text: str, payload: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode(topic_text, payload)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: make_envelope("park", "s01", 1, datetime(2026, 1, 1), MESSAGE_ID), "aware"),
        (lambda: make_envelope("park", "s01", -1, SENT_AT, MESSAGE_ID), ">= 0"),
        (lambda: make_envelope("pa/rk", "s01", 1, SENT_AT, MESSAGE_ID), "not allowed"),
        (lambda: make_envelope("park", "s01", 1, SENT_AT, "x"), "not a lowercase hyphenated"),
    ],
)
def test_bad_envelopes_are_refused(build: Any, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        build()


def test_encode_refuses_what_decode_would_refuse() -> None:
    with pytest.raises(ContractError, match=r"records\[0\]\.laeq_db: .* not a finite number"):
        encode(LevelsMessage(_envelope(), ({**example_data("levels")["records"][0],
                                             "laeq_db": float("nan")},)))  # fmt: skip
    with pytest.raises(ContractError, match="state: 'asleep' is not one of"):
        encode(StatusMessage(_envelope(), "asleep"))  # type: ignore[arg-type]
