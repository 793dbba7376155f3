"""Limits checked before a command payload is parsed (``contract.limits``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from noisefleet_core.contract.commands import (
    ContractError,
    SetCommand,
    decode_command,
    encode_command,
    split_archive,
)
from noisefleet_core.contract.limits import (
    COMMAND_MAX_BYTES,
    MAX_DEPTH,
    check_command_limits,
    check_payload_limits,
)
from noisefleet_core.contract.topics import topic

REQUEST_ID = "5b2d7c1e-9a43-4f0b-8e61-2c7d9f30a4b8"
TRANSFER_ID = "9e1f0a6c-3b57-4d28-a4c9-71e5b0d82f36"
SET_TOPIC = topic("riverside-park", "s01", "set")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def set_with(changes_json: str) -> bytes:
    """A set command whose ``changes`` is ``changes_json``, written by hand (it may be hostile)."""
    return (
        '{"changes":' + changes_json + ',"issued_at":"2026-11-24T09:30:00.000Z","kind":"set",'
        f'"request_id":"{REQUEST_ID}","schema_version":1}}'
    ).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_payload_within_the_limits_passes() -> None:
    check_payload_limits(json.dumps({"a": [[1, 2.5e-300], {"b": "x"}]}).encode(), 100)
    check_payload_limits(nested(MAX_DEPTH).encode(), 1000)
    check_payload_limits(b"12345678901234567890", 100, max_digits=20)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"x" * 1001, "payload: 1001 bytes, more than the 1000 allowed; not parsed"),
        (nested(MAX_DEPTH + 1).encode(), f"nested deeper than {MAX_DEPTH} levels"),
        (b'{"a":' * 20 + b"1" + b"}" * 20, f"nested deeper than {MAX_DEPTH} levels"),
        (b"[" * 90, f"nested deeper than {MAX_DEPTH} levels"),  # unbalanced: still refused
        (b'{"n": ' + b"9" * 41 + b"}", "payload: a number of more than 40 digits; not parsed"),
        (b'{"n": 1.' + b"0" * 41 + b"}", "a number of more than 40 digits"),
    ],
)
def test_oversized_deep_and_long_numbered_payloads_are_refused_in_one_line(
    payload: bytes, reason: str
) -> None:
    with pytest.raises(ContractError) as caught:
        check_payload_limits(payload, 1000)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_brackets_and_digits_inside_strings_do_not_count() -> None:
    text = json.dumps({"s": "[" * 50 + "9" * 50, "t": 'a \\" [[[[ " ' + "{" * 30})
    check_payload_limits(text.encode(), 1000)
    # An escaped quote does not end the string: what follows it is still inside.
    check_payload_limits(b'["\\"' + b"[" * 40 + b'"]', 1000)


def test_decode_command_refuses_beyond_the_limits_before_parsing() -> None:
    cases = {
        set_with('{"enabled_labels":' + json.dumps(["siren"] * 60000) + "}"): "bytes, more than",
        set_with('{"gate_level_db":' + nested(20000) + "}"): "nested deeper",
        set_with('{"gate_level_db":' + "9" * 5000 + "}"): "more than 40 digits",
    }
    for payload, reason in cases.items():
        with pytest.raises(ContractError, match=reason):
            decode_command(SET_TOPIC, payload)


def test_the_largest_legitimate_commands_fit() -> None:
    for chunk in split_archive(b"\xff" * 200_000, TRANSFER_ID):
        check_command_limits("model", encode_command(chunk))
    labels = [f"label_{i:04d}" for i in range(1000)]
    thresholds = dict.fromkeys(labels, 0.123456789)
    changes = {"enabled_labels": labels, "onset_thresholds": thresholds}
    payload = encode_command(SetCommand(REQUEST_ID, NOW, changes))
    assert len(payload) < COMMAND_MAX_BYTES["set"]
    assert decode_command(SET_TOPIC, payload) == SetCommand(REQUEST_ID, NOW, changes)


def test_encode_command_refuses_what_a_consumer_would_not_read() -> None:
    changes = {"enabled_labels": ["a-long-label-name"] * 10000}
    with pytest.raises(ContractError, match="more than the 65536 allowed"):
        encode_command(SetCommand(REQUEST_ID, NOW, changes))
