from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from noisefleet_core.contract.commands import (
    SetCommand,
    StateReport,
    decode_command,
    encode_command,
    split_archive,
)
from noisefleet_core.contract.topics import topic
from noisefleet_edge.agent.model_store import ModelStore, TransferLimits
from noisefleet_edge.agent.model_transfer import ModelTransfer, ModelUpdateError
from noisefleet_edge.agent.remote import (
    STARTUP,
    StateReportDraft,
    handle_model_chunk,
    handle_set,
    model_info,
    roll_back,
    state_report,
)
from noisefleet_edge.agent.tuning import SETTING_NAMES, SensorTuning, tuning_from_mapping
from noisefleet_edge.classifier import default_model_dir
from tests.edge.agent.test_model_store import (
    SOURCE,
    build_archive,
    fake_load,
    load_and_run,
    manifest_with,
    model_files,
)

SET_TOPIC = topic("riverside-park", "s01", "set")
MODEL_TOPIC = topic("riverside-park", "s01", "model")
STATE_TOPIC = topic("riverside-park", "s01", "state")
REQUEST_ID = "5b2d7c1e-9a43-4f0b-8e61-2c7d9f30a4b8"
TRANSFER_ID = "9e1f0a6c-3b57-4d28-a4c9-71e5b0d82f36"
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
LABELS = ("car_horn", "dog_bark", "siren")
DEFAULT_LABELS = tuple(json.loads((SOURCE / "model.json").read_bytes())["labels"])

SHIPPED_NAME = json.loads((default_model_dir() / "model.json").read_text())["name"]


def set_payload(changes: dict[str, object]) -> bytes:
    return encode_command(SetCommand(REQUEST_ID, NOW, changes))


def test_an_accepted_change_is_applied_and_reported() -> None:
    current = SensorTuning()
    outcome = handle_set(
        SET_TOPIC, set_payload({"gate_level_db": 50, "events_on_start": True}), current, LABELS
    )
    assert outcome.tuning == SensorTuning(gate_level_db=50.0, events_on_start=True)
    assert outcome.changed == ("gate_level_db", "events_on_start")
    assert outcome.report == StateReportDraft(REQUEST_ID, True, None)
    report = state_report(outcome.report, outcome.tuning, None, NOW)
    decoded = decode_command(STATE_TOPIC, encode_command(report))
    assert decoded == report
    assert isinstance(decoded, StateReport)
    assert set(decoded.settings) == set(SETTING_NAMES)
    assert decoded.settings["gate_level_db"] == 50.0
    assert tuning_from_mapping(decoded.settings, LABELS) == outcome.tuning


def test_a_bad_change_is_rejected_with_its_reason_and_changes_nothing() -> None:
    current = SensorTuning(interval_s=2.0)
    outcome = handle_set(
        SET_TOPIC, set_payload({"interval_s": 5, "gate_level": 50}), current, LABELS
    )
    assert outcome.tuning is current
    assert outcome.changed == ()
    assert outcome.report.request_id == REQUEST_ID
    assert outcome.report.accepted is False
    assert outcome.report.reason is not None
    assert outcome.report.reason.startswith("unknown setting 'gate_level'; known: interval_s")
    report = state_report(outcome.report, outcome.tuning, None, NOW)
    assert report.settings["interval_s"] == 2.0
    encode_command(report)


def test_the_models_tuned_thresholds_take_part_in_the_check() -> None:
    payload = set_payload({"onset_thresholds": {"siren": 0.35}})
    assert handle_set(SET_TOPIC, payload, SensorTuning(), LABELS).report.accepted
    refused = handle_set(
        SET_TOPIC, payload, SensorTuning(), LABELS, ({"siren": 0.6}, {"siren": 0.4})
    )
    assert refused.report.reason is not None
    assert "thresholds of 'siren' must satisfy" in refused.report.reason


def test_an_empty_change_only_asks_for_a_report() -> None:
    current = SensorTuning(gate_level_db=40)
    outcome = handle_set(SET_TOPIC, set_payload({}), current, LABELS)
    assert outcome.tuning == current
    assert outcome.changed == ()
    assert outcome.report == StateReportDraft(REQUEST_ID, True, None)


@pytest.mark.parametrize(
    ("payload", "request_id", "reason"),
    [
        (b"{not json", None, "payload: not JSON"),
        (b'{"request_id": 5}', None, "set: missing field(s) schema_version"),
        (
            set_payload({}).replace(b'"issued_at":"2026-11-24T09:30:00.000Z"', b'"issued_at":1'),
            REQUEST_ID,
            "set.issued_at: expected an RFC 3339 UTC timestamp string, got integer",
        ),
        (
            encode_command(StateReport(None, True, None, {}, None, NOW)),
            None,
            "set.kind: command kind 'state' does not match the topic kind 'set'",
        ),
    ],
)
def test_a_malformed_payload_is_rejected_with_the_contracts_reason(
    payload: bytes, request_id: str | None, reason: str
) -> None:
    outcome = handle_set(SET_TOPIC, payload, SensorTuning(), LABELS)
    assert outcome.tuning == SensorTuning()
    assert outcome.report.accepted is False
    assert outcome.report.request_id == request_id
    assert outcome.report.reason is not None
    assert outcome.report.reason.startswith(reason)


def hostile_set(changes_json: str, request_id: str = REQUEST_ID) -> bytes:
    """A set command with ``changes`` written by hand: it may be anything."""
    return (
        '{"changes":' + changes_json + ',"issued_at":"2026-11-24T09:30:00.000Z","kind":"set",'
        f'"request_id":"{request_id}","schema_version":1}}'
    ).encode()


HOSTILE_CHANGES = {
    "540 kB of labels": '{"enabled_labels":' + json.dumps(["siren"] * 60000) + "}",
    "30 MB of nested lists": '{"gate_level_db":' + json.dumps([[[0] * 10] * 10] * 100_000) + "}",
    "deep nesting": '{"gate_level_db":' + "[" * 20000 + "]" * 20000 + "}",
    "a 5000-digit integer": '{"gate_level_db":' + "9" * 5000 + "}",
}
"""The ``changes`` of the set commands of issue 14 that froze the agent or got no answer."""


@pytest.mark.parametrize("name", HOSTILE_CHANGES)
def test_a_hostile_set_is_refused_in_one_line_before_it_is_parsed(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the payload was parsed")

    # Refused unread: nothing of it is parsed (no memory, no time, no RecursionError).
    monkeypatch.setattr(json, "loads", no_parsing)
    outcome = handle_set(SET_TOPIC, hostile_set(HOSTILE_CHANGES[name]), SensorTuning(), LABELS)
    assert outcome.tuning == SensorTuning()
    assert outcome.report.accepted is False
    assert outcome.report.request_id == REQUEST_ID, "the server can match the answer"
    assert outcome.report.reason is not None
    assert outcome.report.reason.startswith("payload: ")
    assert "not parsed" in outcome.report.reason
    assert "\n" not in outcome.report.reason


def test_a_set_handler_on_another_topic_kind_refuses() -> None:
    archive_chunk = split_archive(b"x" * 10, TRANSFER_ID)[0]
    outcome = handle_set(MODEL_TOPIC, encode_command(archive_chunk), SensorTuning(), LABELS)
    assert outcome.report.reason == (
        f"expected a set command on {MODEL_TOPIC}, got a model command"
    )


def _chunk_payloads(archive: bytes, transfer_id: str = TRANSFER_ID) -> list[bytes]:
    return [encode_command(c) for c in split_archive(archive, transfer_id, chunk_bytes=8192)]


def test_a_pushed_model_is_installed_and_reported(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    transfer = ModelTransfer()
    tuning = tuning_from_mapping({"enabled_labels": ["siren"]}, DEFAULT_LABELS)
    payloads = _chunk_payloads(build_archive(model_files(), gz=True))
    outcomes = [
        handle_model_chunk(MODEL_TOPIC, p, transfer, store, load_and_run, tuning, float(i), NOW)
        for i, p in enumerate([payloads[-1], *payloads[:-1]])
    ]
    assert [o.status for o in outcomes[:-1]] == ["receiving"] * (len(payloads) - 1)
    assert all(o.report is None for o in outcomes[:-1])
    done = outcomes[-1]
    assert done.status == "installed"
    assert done.report == StateReportDraft(TRANSFER_ID, True, None)
    assert done.installed is not None
    assert store.current_dir() == done.installed.path
    assert done.installed.loaded.labels == DEFAULT_LABELS
    info = done.model
    assert info is not None
    assert info == model_info(done.installed.manifest, done.installed.version, NOW)
    shipped = json.loads((default_model_dir() / "model.json").read_text())["model_sha256"]
    assert info.sha256 == shipped
    assert info.version == f"20261124T093000Z-{shipped[:12]}"
    report = state_report(done.report, tuning, info, NOW)
    assert decode_command(STATE_TOPIC, encode_command(report)) == report
    # A redelivered chunk of the finished transfer is ignored: no second install, no report.
    again = handle_model_chunk(
        MODEL_TOPIC, payloads[0], transfer, store, load_and_run, tuning, 99.0, NOW
    )
    assert (again.status, again.report) == ("ignored", None)
    assert store.previous_dir() is None


def _push(
    tmp_path: Path, archive: bytes, tuning: SensorTuning | None = None, **kwargs: object
) -> tuple[ModelStore, str | None]:
    store = ModelStore(tmp_path, "s01")
    store.seed(SOURCE, fake_load, NOW)
    before = store.current_version()
    transfer = ModelTransfer(TransferLimits(**kwargs))  # type: ignore[arg-type]
    outcome = None
    for payload in _chunk_payloads(archive):
        outcome = handle_model_chunk(
            MODEL_TOPIC, payload, transfer, store, fake_load, tuning or SensorTuning(), 0.0, NOW
        )
        if outcome.status == "rejected":
            break
    assert outcome is not None
    assert outcome.status == "rejected"
    assert outcome.installed is None
    assert outcome.report is not None
    assert outcome.report.accepted is False
    assert outcome.report.request_id == TRANSFER_ID
    assert store.current_version() == before
    return store, outcome.report.reason


def test_a_corrupt_model_is_rejected_and_the_old_one_stays(tmp_path: Path) -> None:
    tflite = bytearray((SOURCE / "model.tflite").read_bytes())
    tflite[100] ^= 0xFF
    _, reason = _push(tmp_path, build_archive(model_files(**{"model.tflite": bytes(tflite)})))
    assert reason is not None
    assert reason.startswith("model.tflite does not match model.json")


def test_a_model_that_does_not_fit_the_settings_is_refused(tmp_path: Path) -> None:
    labels = [label if label != "dog_bark" else "dog" for label in DEFAULT_LABELS]
    archive = build_archive(model_files(**{"model.json": manifest_with(labels=labels)}))
    tuning = tuning_from_mapping({"enabled_labels": ["dog_bark"]}, DEFAULT_LABELS)
    _, reason = _push(tmp_path, archive, tuning)
    assert reason is not None
    assert reason.startswith(
        f"the settings in force do not fit model {SHIPPED_NAME!r} "
        "(enabled_labels names label(s) the model does not have: dog_bark;"
    )
    assert reason.endswith("change them first")


def test_an_oversized_model_is_refused_at_once(tmp_path: Path) -> None:
    _, reason = _push(tmp_path, build_archive(model_files()), max_archive_bytes=10_000)
    assert reason is not None
    assert reason.startswith("the model archive holds ")


def test_a_model_that_fails_to_run_is_rejected(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    transfer = ModelTransfer()

    def broken(path: Path) -> None:
        raise RuntimeError("Invoke failed")

    outcome = None
    for payload in _chunk_payloads(build_archive(model_files())):
        outcome = handle_model_chunk(
            MODEL_TOPIC, payload, transfer, store, broken, SensorTuning(), 0.0, NOW
        )
    assert outcome is not None
    assert outcome.status == "rejected"
    assert outcome.report is not None
    assert outcome.report.reason == (
        "the new model failed to load or run, no model stays current: Invoke failed"
    )
    assert store.current_dir() is None


def test_a_malformed_chunk_is_rejected_with_its_transfer_id(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    payload = _chunk_payloads(b"x" * 100)[0].replace(b'"index":0', b'"index":5')
    outcome = handle_model_chunk(
        MODEL_TOPIC, payload, ModelTransfer(), store, fake_load, SensorTuning(), 0.0, NOW
    )
    assert outcome.status == "rejected"
    assert outcome.report == StateReportDraft(
        TRANSFER_ID, False, "model.index: 5 must be below count 1"
    )
    wrong = handle_model_chunk(
        MODEL_TOPIC, set_payload({}), ModelTransfer(), store, fake_load, SensorTuning(), 0.0, NOW
    )
    assert wrong.report is not None
    assert wrong.report.request_id is None
    assert wrong.report.reason is not None
    assert "model.kind: command kind 'set' does not match" in wrong.report.reason


def test_roll_back_reports_why(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, "s01")
    seeded = store.seed(SOURCE, fake_load, NOW)
    assert seeded is not None
    transfer = ModelTransfer()
    for payload in _chunk_payloads(build_archive(model_files())):
        outcome = handle_model_chunk(
            MODEL_TOPIC, payload, transfer, store, fake_load, SensorTuning(), 0.0, NOW
        )
    assert outcome.installed is not None
    failed = outcome.installed.version
    folder, draft = roll_back(store, "interpreter crashed\nat frame 12")
    assert folder == seeded.path
    assert store.current_dir() == seeded.path
    assert draft == StateReportDraft(
        None,
        True,
        f"model {failed} failed in use and was rolled back to {seeded.version}: "
        "interpreter crashed at frame 12",
    )
    encode_command(state_report(draft, SensorTuning(), None, NOW))
    with pytest.raises(ModelUpdateError, match="no previous model"):
        roll_back(store, "again")


def test_the_startup_report_answers_no_request() -> None:
    report = state_report(STARTUP, SensorTuning(), None, NOW)
    assert (report.request_id, report.accepted, report.reason) == (None, True, None)
    assert decode_command(STATE_TOPIC, encode_command(report)) == report
