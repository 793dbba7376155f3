"""The edge agent end to end: ``noisefleet-edge run`` as a real process, a real mosquitto and a
subscriber that decodes every message.

Each test starts a broker (``broker``/``broker_factory``), a ``Collector`` subscribed to
``noisefleet/#`` before the agent starts, then the agent on a short recording (file sources end
by themselves: the agent drains, publishes ``stopped`` and exits 0) or until SIGTERM. The
reference for what must arrive is ``noisefleet-edge analyze`` on the same file.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import signal
import subprocess
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from noisefleet_core.contract.commands import (
    SetCommand,
    StateReport,
    decode_command,
    encode_command,
    split_archive,
)
from noisefleet_core.contract.messages import (
    EventsMessage,
    HeartbeatMessage,
    LevelsMessage,
    Message,
    StatusMessage,
    decode,
    mark_replayed,
)
from noisefleet_core.contract.topics import topic
from noisefleet_core.models.manifest import MANIFEST_FILE, MODEL_FILE
from noisefleet_edge import demo
from noisefleet_edge.agent.tuning import (
    SETTING_NAMES,
    model_thresholds,
    tuning_from_mapping,
    tuning_to_mapping,
)
from noisefleet_edge.classifier import default_model_dir, read_manifest
from tests.support.mosquitto import Mosquitto

from .agent_helpers import (
    EMULATOR,
    SITE,
    AgentProcess,
    Analysis,
    Collector,
    add_device,
    analyze,
    data_of,
    dead_letters,
    event_records,
    file_sensor,
    first_arrivals,
    free_port,
    level_records,
    outbox_path,
    publish,
    read_outbox,
    retained,
    seconds_between,
    sequences,
    start_cli,
    statuses,
    udp_port_taken,
    wait_until,
    without,
    write_config,
)
from .conftest import BrokerFactory
from .test_remote import HOSTILE_CHANGES, hostile_set

pytestmark = pytest.mark.integration

MANIFEST = read_manifest(default_model_dir())


# -- recordings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Street:
    path: Path
    analysis: Analysis


def write_street(path: Path, seconds: int, seed: int) -> Path:
    """The first ``seconds`` of a 20 s street recording (``street_recording`` itself fails for
    lengths that end inside one of its placed sounds, e.g. 8 s)."""
    audio = demo.street_recording(np.random.default_rng(seed), seconds=20)
    sf.write(path, audio[: seconds * demo.SAMPLE_RATE_HZ], demo.SAMPLE_RATE_HZ, "PCM_24")
    return path


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recordings")


@pytest.fixture(scope="module")
def street20(recordings: Path) -> Street:
    """20 s of street noise with a passing car at 10–18 s (events), and its analysis."""
    path = write_street(recordings / "street20.wav", 20, seed=20)
    street = Street(path, analyze(path))
    assert len(street.analysis.levels) == 20
    assert street.analysis.events, "the reference recording must hold events"
    return street


@pytest.fixture(scope="module")
def street6(recordings: Path) -> Path:
    return write_street(recordings / "street6.wav", 6, seed=6)


@pytest.fixture(scope="module")
def street3(recordings: Path) -> Path:
    return write_street(recordings / "street3.wav", 3, seed=3)


# -- shared checks ---------------------------------------------------------------------------


def assert_same_records(received: list[dict[str, Any]], expected: Analysis) -> None:
    """Level records and events equal ``analyze``'s field by field, except the wall-clock
    times, ``source`` and ``channel``; relative times agree to the millisecond."""
    levels = level_records_of(received)
    assert len(levels) == len(expected.levels)
    assert [without(r) for r in levels] == [without(r) for r in expected.levels]
    events = [r for r in received if r["kind"] == "event"]
    assert [without(e) for e in events] == [without(e) for e in expected.events]
    origin, reference = levels[0]["start"], expected.levels[0]["start"]
    for got, want in zip(levels + events, expected.levels + expected.events, strict=True):
        assert seconds_between(got["start"], origin) == pytest.approx(
            seconds_between(want["start"], reference), abs=0.002
        )


def level_records_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == "levels"]


def assert_contiguous(levels: list[dict[str, Any]]) -> None:
    """Each record starts where the previous one ended: no audio lost or counted twice."""
    for previous, record in itertools.pairwise(levels):
        assert record["start"] == previous["end"], (previous, record)


def records_of(messages: list[Message]) -> list[dict[str, Any]]:
    return level_records(messages) + event_records(messages)


def assert_sequences(messages: list[Message]) -> list[Message]:
    """Data messages numbered 1..N without gaps, in arrival order, after de-duplication by
    message id (the server's); status messages carry a data sequence and use none. The
    messages without redeliveries."""
    unique = first_arrivals(messages)
    data = data_of(unique)
    assert sequences(data) == list(range(1, len(data) + 1))
    for status in statuses(unique):
        assert 0 <= status.envelope.sequence <= len(data)
    return unique


def last_state(collector: Collector, sensor: str, request_id: str | None) -> StateReport:
    reports = [s for s in collector.states(sensor) if s.request_id == request_id]
    assert reports, f"no state report answers {request_id}"
    return reports[-1]


def wait_state(collector: Collector, sensor: str, request_id: str | None) -> StateReport:
    collector.wait_for(
        lambda: any(s.request_id == request_id for s in collector.states(sensor)),
        15,
        f"the state report answering {request_id}",
    )
    return last_state(collector, sensor, request_id)


def wait_levels_after(collector: Collector, sensor: str, moment: float, count: int = 1) -> None:
    """Until ``count`` levels messages arrived after ``moment`` (monotonic)."""
    collector.wait_for(
        lambda: len([r for r in collector.of(sensor, "levels") if r.at > moment]) >= count,
        15,
        f"{count} levels message(s) of {sensor}",
    )


def count_records(collector: Collector, sensor: str, duration_s: float) -> int:
    levels = level_records(collector.messages(sensor, "levels"))
    return len([r for r in levels if r["duration_s"] == duration_s])


def wait_records(collector: Collector, sensor: str, duration_s: float, count: int) -> None:
    """Until ``count`` level records of ``duration_s`` arrived (events in the recording may
    hold level records back while their energy shares are not settled)."""
    collector.wait_for(
        lambda: count_records(collector, sensor, duration_s) >= count,
        20,
        f"{count} level records of {duration_s:g} s from {sensor}",
    )


def stopped_last(collector: Collector, sensor: str) -> StatusMessage:
    collector.wait_for(
        lambda: any(
            isinstance(m, StatusMessage) and m.state == "stopped"
            for m in collector.messages(sensor, "status")
        ),
        10,
        f"the stopped status of {sensor}",
    )
    status = statuses(collector.messages(sensor, "status"))
    assert status[-1].state == "stopped"
    return status[-1]


def assert_no_traceback(agent: AgentProcess) -> None:
    assert "Traceback" not in agent.stderr, agent.stderr[-3000:]


def set_payload(changes: dict[str, Any]) -> tuple[str, bytes]:
    request_id = str(uuid.uuid4())
    return request_id, encode_command(SetCommand(request_id, datetime.now(UTC), changes))


# -- 1. one sensor, everything it measures ---------------------------------------------------


def test_levels_and_events_arrive_intact_numbered_with_status_heartbeats_and_state(
    broker: Mosquitto, tmp_path: Path, street20: Street
) -> None:
    settings = {"levels_batch_s": 5, "unknown_level_db": 65}
    sensor = file_sensor("s01", street20.path, speed=5.0, settings=settings)
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor], heartbeat_s=1)
    with Collector(broker) as collector, AgentProcess(config) as agent:
        assert agent.wait() == 0, agent.stderr[-3000:]
        stopped_last(collector, "s01")
    assert_no_traceback(agent)

    messages = collector.messages("s01")
    unique = assert_sequences(messages)
    assert len(unique) == len(messages), "no redelivery without a reconnect"
    data = data_of(unique)
    assert not any(m.envelope.replayed for m in messages)
    assert all(m.envelope.site == SITE and m.envelope.sensor == "s01" for m in messages)

    assert_same_records(records_of(data), street20.analysis)
    levels = level_records(data)
    assert_contiguous(levels)
    assert {r["source"] for r in levels} == {"s01"}
    assert all(m.phase == "end" for m in data if isinstance(m, EventsMessage))
    assert max(len(m.records) for m in data if isinstance(m, LevelsMessage)) == 5

    # Status: online at connect (nothing measured yet), stopped with the last data sequence.
    status = statuses(unique)
    assert [s.state for s in status] == ["online", "stopped"]
    assert [s.envelope.sequence for s in status] == [0, len(data)]

    beats = [m for m in data if isinstance(m, HeartbeatMessage)]
    assert beats, "heartbeat_s = 1 over a 4 s run"
    for beat in beats:
        assert (beat.model_name, beat.model_sha256, beat.feature_params_hash) == (
            MANIFEST.name,
            MANIFEST.model_sha256,
            MANIFEST.feature_params_hash,
        )
        assert isinstance(beat.outbox_depth, int)
        assert beat.outbox_depth >= 0
        assert beat.calibration_offset_db == 120.0

    # The retained state lists every setting in force: the configured ones over the defaults.
    state_topic = topic(SITE, "s01", "state")
    payload = retained(broker, state_topic)
    assert payload is not None, "no retained state report"
    report = decode_state(state_topic, payload)
    assert (report.request_id, report.accepted, report.reason) == (None, True, None)
    expected = tuning_from_mapping(settings, MANIFEST.labels, None, model_thresholds(MANIFEST))
    assert dict(report.settings) == tuning_to_mapping(expected)
    assert set(report.settings) == set(SETTING_NAMES)
    assert (report.settings["levels_batch_s"], report.settings["interval_s"]) == (5.0, 1.0)
    assert report.model is not None
    assert (report.model.name, report.model.sha256) == (MANIFEST.name, MANIFEST.model_sha256)
    status_payload = retained(broker, topic(SITE, "s01", "status"))
    assert status_payload is not None
    final = decode(topic(SITE, "s01", "status"), status_payload)
    assert isinstance(final, StatusMessage)
    assert final.state == "stopped"


def decode_state(name: str, payload: bytes) -> StateReport:
    report = decode_command(name, payload)
    assert isinstance(report, StateReport)
    return report


# -- 2. two sensors ----------------------------------------------------------------------------


def test_two_sensors_publish_on_their_own_topics_and_a_slow_one_does_not_stall_the_other(
    broker: Mosquitto, tmp_path: Path, street20: Street, street6: Path
) -> None:
    fast = file_sensor("fast", street20.path, speed=0.0, settings={"levels_batch_s": 1})
    slow = file_sensor("slow", street6, speed=1.0, settings={"levels_batch_s": 1})
    config = write_config(tmp_path / "edge.toml", broker.port, [fast, slow])
    with Collector(broker) as collector, AgentProcess(config) as agent:
        assert agent.wait() == 0, agent.stderr[-3000:]
        stopped_last(collector, "fast")
        stopped_last(collector, "slow")
    assert_no_traceback(agent)

    for sensor in ("fast", "slow"):
        arrived = collector.of(sensor)
        assert all(r.topic.split("/")[2:4] == [SITE, sensor] for r in arrived)
        messages = [r.message() for r in arrived if r.kind != "state"]
        assert {m.envelope.sensor for m in messages} == {sensor}
        data = data_of(assert_sequences(messages))
        assert {r["source"] for r in level_records(data)} == {sensor}
    fast_data = data_of(collector.messages("fast"))
    assert_same_records(records_of(fast_data), street20.analysis)
    slow_levels = level_records(data_of(collector.messages("slow")))
    assert [r["duration_s"] for r in slow_levels] == [1.0] * 6
    assert_contiguous(slow_levels)

    # The fast sensor measured its 20 s while the slow one was still playing its 6 s.
    fast_done = max(r.at for r in collector.of("fast", "levels"))
    slow_levels_at = [r.at for r in collector.of("slow", "levels")]
    slow_so_far = len([at for at in slow_levels_at if at <= fast_done])
    assert slow_so_far <= 3, f"the fast sensor waited: {slow_so_far} of 6 slow seconds were sent"
    assert max(slow_levels_at) - fast_done > 2.0


# -- 3. a broker restart ------------------------------------------------------------------------


def test_a_broker_restart_loses_nothing_and_the_backlog_is_sent_replayed_in_order(
    broker: Mosquitto, tmp_path: Path, street20: Street
) -> None:
    sensor = file_sensor("s01", street20.path, speed=2.0, settings={"levels_batch_s": 1})
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor], heartbeat_s=1)
    # The collector's session (and its subscription) is persistent and mosquitto saves it at
    # stop: what the agent publishes before the collector is back is queued for it.
    with Collector(broker) as collector, AgentProcess(config) as agent:
        # Early, so the agent is back (reconnect back-off: up to 7 s) before the file ends.
        collector.wait_for(lambda: len(collector.of("s01", "levels")) >= 1, 20, "levels")
        broker.stop()
        down_from = datetime.now(UTC)
        time.sleep(3.0)
        down_until = datetime.now(UTC)
        broker.start()
        assert agent.wait() == 0, agent.stderr[-3000:]
        stopped_last(collector, "s01")
    assert_no_traceback(agent)
    assert "connection lost" in agent.stderr
    assert read_outbox(outbox_path(config)) == ([], []), "the agent was back before the end"

    messages = collector.messages("s01")
    unique = assert_sequences(messages)
    data = data_of(unique)
    assert_same_records(records_of(data), street20.analysis)
    assert_contiguous(level_records(data))
    # Data enqueued while the broker was away went out from the backlog, flagged.
    during = [m for m in data if down_from < m.envelope.sent_at < down_until]
    assert len(during) >= 3, "the agent kept measuring while the broker was away"
    assert all(m.envelope.replayed for m in during)
    replayed = [m for m in data if m.envelope.replayed]
    assert len(replayed) >= len(during)
    # Only the backlog is replayed: what the outbox held when the link came back, which the
    # online status then published numbers (it carries the last sequence, uses none).
    back_online = max(s.envelope.sequence for s in statuses(messages) if s.state == "online")
    assert max(sequences(replayed)) <= back_online
    states = [s.state for s in statuses(messages)]
    assert states[0] == "online"
    assert states.count("online") >= 2, "online again after the restart"


# -- 4. SIGKILL with a full outbox -------------------------------------------------------------


def test_after_a_sigkill_the_outbox_is_sent_replayed_and_sequences_continue(
    broker_factory: BrokerFactory, tmp_path: Path, street20: Street, street3: Path
) -> None:
    broker = broker_factory()
    broker.stop()  # unreachable: everything the agent measures stays in its outbox
    sensor = file_sensor("s01", street20.path, speed=2.0, settings={"levels_batch_s": 1})
    first = write_config(tmp_path / "first.toml", broker.port, [sensor], heartbeat_s=1)
    wal = Path(f"{outbox_path(first)}-wal")
    with AgentProcess(first) as agent:
        wait_until(lambda: "cannot reach the broker" in agent.stderr, 20, "a failed connect")
        wait_until(lambda: wal.exists() and wal.stat().st_size > 400_000, 20, "outbox writes")
        assert agent.running(), "the agent must be killed while it measures"
        agent.signal(signal.SIGKILL)
        assert agent.wait() == -signal.SIGKILL
    rows, staged = read_outbox(outbox_path(first))
    assert len(rows) >= 3, "messages were waiting in the outbox"
    kept = [decode(name, payload) for _, name, _, payload in rows]
    assert [sequence for _, _, sequence, _ in rows] == list(range(1, len(rows) + 1))

    broker.start()
    restarted_at = datetime.now(UTC)
    restart = file_sensor("s01", street3, speed=0.0, settings={"levels_batch_s": 1})
    second = write_config(tmp_path / "second.toml", broker.port, [restart])
    with Collector(broker) as collector, AgentProcess(second) as agent:
        assert agent.wait() == 0, agent.stderr[-3000:]
        stopped_last(collector, "s01")
    assert_no_traceback(agent)

    messages = collector.messages("s01")
    unique = assert_sequences(messages)
    by_id = {m.envelope.message_id: m for m in unique}
    for message in kept:
        assert by_id.get(message.envelope.message_id) == mark_replayed(message)
    data = data_of(unique)
    assert data[: len(kept)] == [mark_replayed(m) for m in kept], "the backlog goes first"
    later = data[len(kept) :]
    assert later, "the second run measured too"
    # Replayed: what was in the outbox when the link connected (the status then published
    # carries that moment's last sequence), and nothing enqueued later.
    status = statuses(unique)
    assert status[0].state == "online"
    online_at = status[0].envelope.sequence
    assert len(kept) <= online_at <= len(data)
    assert min(sequences(later)) == len(kept) + 1, "sequences continue, never reused"
    # Level records staged (not yet batched) at the kill go out first after the restart, as a
    # replay sent when the killed run staged them.
    later_levels = level_records(later)
    assert later_levels[: len(staged)] == staged
    recovered = later[:1] if staged else []
    for message in recovered:
        assert isinstance(message, LevelsMessage)
        assert list(message.records) == staged
        assert message.envelope.replayed is True
        assert message.envelope.sent_at < restarted_at
    fresh = later[len(recovered) :]
    assert all(m.envelope.sequence <= online_at for m in fresh if m.envelope.replayed)
    assert [r["duration_s"] for r in later_levels[len(staged) :]] == [1.0, 1.0, 1.0]
    assert (status[-1].state, status[-1].envelope.sequence) == ("stopped", len(data))


# -- 5. remote settings ------------------------------------------------------------------------


def looping_sensor_config(tmp_path: Path, broker: Mosquitto, street: Street) -> Path:
    """One sensor, ``s01``, playing ``street`` in a loop at 4x, 1 s level batches."""
    sensor = file_sensor("s01", street.path, speed=4.0, loop=True, settings={"levels_batch_s": 1})
    return write_config(tmp_path / "edge.toml", broker.port, [sensor])


def test_set_commands_change_settings_at_run_time_and_bad_ones_are_rejected(
    broker: Mosquitto, tmp_path: Path, street20: Street
) -> None:
    config = looping_sensor_config(tmp_path, broker, street20)
    set_topic = topic(SITE, "s01", "set")
    with Collector(broker) as collector, AgentProcess(config) as agent:
        startup = wait_state(collector, "s01", None)
        assert startup.settings["interval_s"] == 1.0
        wait_levels_after(collector, "s01", 0.0)

        request, payload = set_payload({"interval_s": 2, "gate_level_db": 50})
        publish(broker, [(set_topic, payload)])
        accepted = wait_state(collector, "s01", request)
        assert (accepted.accepted, accepted.reason) == (True, None)
        assert dict(accepted.settings) == {
            **startup.settings,
            "interval_s": 2.0,
            "gate_level_db": 50.0,
        }
        wait_records(collector, "s01", 2.0, 2)

        bad_threshold, payload = set_payload({"onset_threshold": 1.5})
        publish(broker, [(set_topic, payload)])
        refused = wait_state(collector, "s01", bad_threshold)
        assert refused.accepted is False
        assert refused.reason is not None
        assert "onset_threshold" in refused.reason
        assert dict(refused.settings) == dict(accepted.settings), "nothing changed"

        unknown, payload = set_payload({"gate_level": 40})
        publish(broker, [(set_topic, payload)])
        refused = wait_state(collector, "s01", unknown)
        assert refused.accepted is False
        assert refused.reason is not None
        assert "gate_level" in refused.reason
        assert dict(refused.settings) == dict(accepted.settings)

        before = len(collector.states("s01"))
        publish(broker, [(set_topic, b"interval_s=3")])
        collector.wait_for(lambda: len(collector.states("s01")) > before, 10, "a report")
        malformed = collector.states("s01")[-1]
        assert (malformed.request_id, malformed.accepted) == (None, False)
        assert malformed.reason is not None
        assert "JSON" in malformed.reason
        assert dict(malformed.settings) == dict(accepted.settings)

        # Still measuring, at the interval last accepted.
        wait_records(collector, "s01", 2.0, count_records(collector, "s01", 2.0) + 2)
        assert agent.running()
        assert agent.stop() == 0, agent.stderr[-3000:]
        stopped_last(collector, "s01")
    assert_no_traceback(agent)

    data = data_of(assert_sequences(collector.messages("s01")))
    levels = level_records(data)
    assert_contiguous(levels)
    durations = [r["duration_s"] for r in levels]
    switch = durations.index(2.0)
    # Before the change 1 s records (the last one cut short when the change applied), after
    # it 2 s records (the very last one cut short by the shutdown).
    assert set(durations[: switch - 1]) <= {1.0}
    assert 0 < durations[switch - 1] <= 1.0
    assert durations[switch:-1] == [2.0] * (len(durations) - switch - 1)
    assert len(durations) - switch - 1 >= 4
    assert 0 < durations[-1] <= 2.0


def test_settings_changed_remotely_survive_a_restart(
    broker: Mosquitto, tmp_path: Path, street20: Street
) -> None:
    config = looping_sensor_config(tmp_path, broker, street20)
    request, payload = set_payload({"interval_s": 2, "enabled_labels": ["siren"]})
    with Collector(broker) as collector, AgentProcess(config) as agent:
        wait_state(collector, "s01", None)
        publish(broker, [(topic(SITE, "s01", "set"), payload)])
        accepted = wait_state(collector, "s01", request)
        assert accepted.accepted is True
        assert agent.stop() == 0, agent.stderr[-3000:]
    with Collector(broker, "second") as collector, AgentProcess(config) as agent:
        startup = wait_state(collector, "s01", None)  # the first run left the set's answer
        assert dict(startup.settings) == dict(accepted.settings)
        assert (startup.accepted, startup.reason) == (True, None)
        wait_records(collector, "s01", 2.0, 2)
        assert agent.stop() == 0, agent.stderr[-3000:]
    assert_no_traceback(agent)


def test_hostile_set_commands_are_each_refused_in_one_line_and_measuring_goes_on(
    broker: Mosquitto, tmp_path: Path, street20: Street
) -> None:
    """Issue 14: these froze the agent for minutes, took its memory or got no answer."""
    config = looping_sensor_config(tmp_path, broker, street20)
    set_topic = topic(SITE, "s01", "set")
    requests = {name: str(uuid.uuid4()) for name in HOSTILE_CHANGES}
    payloads = [
        (set_topic, hostile_set(changes, requests[name]))
        for name, changes in HOSTILE_CHANGES.items()
    ]
    with Collector(broker) as collector, AgentProcess(config) as agent:
        startup = wait_state(collector, "s01", None)
        wait_levels_after(collector, "s01", 0.0)
        publish(broker, payloads)
        for name, request in requests.items():
            refused = wait_state(collector, "s01", request)
            assert refused.accepted is False, name
            assert refused.reason is not None
            assert refused.reason.startswith("payload: "), (name, refused.reason)
            assert dict(refused.settings) == dict(startup.settings), "nothing changed"
        after = time.monotonic()
        wait_levels_after(collector, "s01", after, count=2)
        assert agent.stop() == 0, agent.stderr[-3000:]
        stopped_last(collector, "s01")
    assert_no_traceback(agent)
    assert_contiguous(level_records(data_of(assert_sequences(collector.messages("s01")))))


# -- 6. remote model update --------------------------------------------------------------------


def model_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in (MANIFEST_FILE, MODEL_FILE):
            archive.add(default_model_dir() / name, arcname=name)
    return buffer.getvalue()


def test_a_model_pushed_in_chunks_is_installed_and_a_corrupt_one_rejected(
    broker: Mosquitto, tmp_path: Path, street20: Street
) -> None:
    config = looping_sensor_config(tmp_path, broker, street20)
    model_topic = topic(SITE, "s01", "model")
    archive = model_archive()
    with Collector(broker) as collector, AgentProcess(config) as agent:
        startup = wait_state(collector, "s01", None)
        assert startup.model is not None
        wait_levels_after(collector, "s01", 0.0)

        transfer = str(uuid.uuid4())
        chunks = split_archive(archive, transfer, chunk_bytes=8192)
        assert len(chunks) >= 3
        publish(broker, [(model_topic, encode_command(c)) for c in chunks])
        installed = wait_state(collector, "s01", transfer)
        assert (installed.accepted, installed.reason) == (True, None)
        assert installed.model is not None
        assert installed.model.version != startup.model.version
        assert (installed.model.name, installed.model.sha256) == (
            MANIFEST.name,
            MANIFEST.model_sha256,
        )
        assert installed.model.installed_at is not None
        wait_levels_after(collector, "s01", collector.of("s01", "state")[-1].at, count=2)

        corrupt = str(uuid.uuid4())
        wrong = hashlib.sha256(b"another archive").hexdigest()
        chunks = [
            replace(c, archive_sha256=wrong)
            for c in split_archive(archive, corrupt, chunk_bytes=8192)
        ]
        publish(broker, [(model_topic, encode_command(c)) for c in chunks])
        rejected = wait_state(collector, "s01", corrupt)
        assert rejected.accepted is False
        assert rejected.reason is not None
        assert "SHA-256" in rejected.reason
        assert rejected.model == installed.model, "the model in force stays"

        wait_levels_after(collector, "s01", collector.of("s01", "state")[-1].at, count=2)
        assert agent.stop() == 0, agent.stderr[-3000:]
        stopped_last(collector, "s01")
    assert_no_traceback(agent)
    data = data_of(assert_sequences(collector.messages("s01")))
    assert_contiguous(level_records(data))
    retained_state = retained(broker, topic(SITE, "s01", "state"))
    assert retained_state is not None
    assert decode_state(topic(SITE, "s01", "state"), retained_state).model == installed.model


# -- 7. the MCU bridge -------------------------------------------------------------------------


def test_a_udp_bridge_sensor_reports_the_frames_the_mcu_dropped(
    broker: Mosquitto, tmp_path: Path
) -> None:
    rate = 16000
    wav = tmp_path / "mcu.wav"
    rng = np.random.default_rng(16)
    sf.write(wav, 0.02 * rng.standard_normal(5 * rate), rate, "PCM_16")
    port = free_port()
    source = {
        "type": "udp",
        "listen": f"127.0.0.1:{port}",
        "mcu_id": 3,
        "sample_rate_hz": rate,
    }
    sensor = {
        "id": "mcu3",
        "calibration_offset_db": 120.0,
        "source": source,
        "settings": {"levels_batch_s": 1},
    }
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor], heartbeat_s=1)
    with Collector(broker) as collector, AgentProcess(config) as agent:
        wait_until(lambda: udp_port_taken(port), 20, "the bridge to listen")
        # Real time: a live source ahead of the system clock by > 1 s is realigned.
        impaired = ["--mcu-id", "3", "--drop-every", "10", "--speed", "1"]
        emulator = subprocess.run(
            [str(EMULATOR), str(wav), "--udp", f"127.0.0.1:{port}", *impaired],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert emulator.returncode == 0, emulator.stderr
        # Level records are sent while the sensor runs, not only when it stops (the last
        # ones wait for audio that would complete the classifier's look-ahead: until SIGTERM).
        collector.wait_for(
            lambda: len(level_records(collector.messages("mcu3", "levels"))) >= 2,
            5,
            "level records of the live bridge sensor before its shutdown",
        )
        # A live source never ends: the agent runs until a signal.
        assert agent.running()
        assert agent.stop() == 0, agent.stderr[-3000:]
        stopped_last(collector, "mcu3")
    assert_no_traceback(agent)

    data = data_of(assert_sequences(collector.messages("mcu3")))
    levels = level_records(data)
    assert_contiguous(levels)
    assert sum(r["duration_s"] for r in levels) == pytest.approx(5.0, abs=0.2)
    full = [r for r in levels if r["duration_s"] == 1.0]
    assert len(full) >= 4
    # Every 10th 10 ms frame dropped: 10 frames of 160 samples per second are NaN.
    assert [r["invalid_samples"] for r in full] == [1600] * len(full)
    assert [r["coverage"] for r in full] == [0.9] * len(full)
    beats = [m for m in data if isinstance(m, HeartbeatMessage)]
    assert beats
    assert beats[-1].dropped_frames > 0


def test_a_stalled_agent_measures_the_audio_its_udp_socket_held_once_and_in_place(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """Issue 14: after ``kill -STOP`` for 3 s, a hole as long as the stall, then overlapping
    records, although the socket held the audio (3 s of 16 kHz int16: 96 kB)."""
    rate = 16000
    wav = tmp_path / "mcu.wav"
    sf.write(wav, 0.02 * np.random.default_rng(17).standard_normal(9 * rate), rate, "PCM_16")
    port = free_port()
    source = {"type": "udp", "listen": f"127.0.0.1:{port}", "mcu_id": 3, "sample_rate_hz": rate}
    sensor = {"id": "mcu3", "calibration_offset_db": 120.0, "source": source}
    sensor["settings"] = {"levels_batch_s": 1}
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor])
    with Collector(broker) as collector, AgentProcess(config) as agent:
        wait_until(lambda: udp_port_taken(port), 20, "the bridge to listen")
        emulator = subprocess.Popen(
            [str(EMULATOR), str(wav), "--udp", f"127.0.0.1:{port}", "--mcu-id", "3"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        collector.wait_for(
            lambda: len(level_records(collector.messages("mcu3", "levels"))) >= 1,
            10,
            "the first level record",
        )
        agent.signal(signal.SIGSTOP)
        threading.Event().wait(3.0)  # the stall itself: what the test is about
        agent.signal(signal.SIGCONT)
        _, emulator_err = emulator.communicate(timeout=30)
        assert emulator.returncode == 0, emulator_err
        collector.wait_for(
            lambda: sum(r["duration_s"] for r in level_records(collector.messages("mcu3"))) >= 7,
            20,
            "the level records of the stalled seconds",
        )
        assert agent.stop() == 0, agent.stderr[-3000:]
        stopped_last(collector, "mcu3")
    assert_no_traceback(agent)
    levels = level_records(data_of(assert_sequences(collector.messages("mcu3"))))
    assert_contiguous(levels)  # no overlap, no hole
    assert sum(r["duration_s"] for r in levels) == pytest.approx(9.0, abs=0.2)
    assert sum(r["invalid_samples"] for r in levels) == 0, "nothing was lost"


# -- 8. per-device ACL -------------------------------------------------------------------------


def test_a_sensor_using_another_devices_credentials_publishes_nothing(
    broker_factory: BrokerFactory, tmp_path: Path, street3: Path
) -> None:
    auth = tmp_path / "auth"
    auth.mkdir()
    add_device(auth, SITE, "a", password="pw-a")
    add_device(auth, SITE, "b", password="pw-b")
    add_device(auth, "--server", "reader", password="pw-reader")
    broker = broker_factory(password_file=auth / "passwd", acl_file=auth / "acl")
    (tmp_path / "a.password").write_text("pw-a\n")
    credentials = {"username": "park.a", "password_file": str(tmp_path / "a.password")}
    good = file_sensor("a", street3, settings={"levels_batch_s": 1}, **credentials)
    forged = file_sensor("b", street3, settings={"levels_batch_s": 1}, **credentials)
    config = write_config(tmp_path / "edge.toml", broker.port, [good, forged])
    with (
        Collector(broker, username="reader", password="pw-reader") as collector,
        AgentProcess(config) as agent,
    ):
        assert agent.wait() == 0, agent.stderr[-3000:]
        stopped_last(collector, "a")
        time.sleep(0.3)  # anything b got through would have arrived by now
    assert_no_traceback(agent)

    assert collector.of("b") == [], "the ACL let b's messages through"
    data = data_of(assert_sequences(collector.messages("a")))
    assert [r["duration_s"] for r in level_records(data)] == [1.0, 1.0, 1.0]
    letters = dead_letters(outbox_path(config))
    assert letters, "b's refused messages are dead-lettered"
    assert all(t.startswith(f"noisefleet/v1/{SITE}/b/") for t, _ in letters)
    assert all("0x87" in reason for _, reason in letters)
    assert {t.rsplit("/", 1)[-1] for t, _ in letters} >= {"levels"}
    rows, staged = read_outbox(outbox_path(config))
    assert (rows, staged) == ([], []), "nothing is left waiting"
    assert "dead-lettered" in agent.stderr


# -- 9. command line: bad configs, --check, SIGTERM --------------------------------------------


def test_a_bad_config_is_one_error_line_and_exit_1_and_check_accepts_a_good_one(
    tmp_path: Path, street3: Path
) -> None:
    sensor = file_sensor("s01", street3)
    missing = {**sensor, "source": {"type": "file", "path": str(tmp_path / "missing.wav")}}
    bad = {
        "unknown key(s) colour": (1883, {**sensor, "colour": "red"}),
        f"{tmp_path / 'missing.wav'} does not exist": (1883, missing),
        "mqtt.port: must be within 1..65535, got 70000": (70000, sensor),
    }
    runs = {}
    # Concurrently: each start of the command line costs seconds of imports.
    for n, (expected, (port, config)) in enumerate(bad.items()):
        path = write_config(tmp_path / f"bad{n}.toml", port, [config])
        runs[expected] = start_cli("run", "--config", str(path))
    good = write_config(tmp_path / "good.toml", 1883, [sensor])
    check = start_cli("run", "--config", str(good), "--check")
    for expected, process in runs.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 1, (expected, err)
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("noisefleet-edge: error: ")
        assert expected in lines[0]
    out, err = check.communicate(timeout=60)
    assert check.returncode == 0, err
    assert "configuration OK" in out
    assert "Traceback" not in err
    assert not (tmp_path / "state").exists(), "--check starts nothing"


def test_sigterm_stops_the_agent_cleanly(broker: Mosquitto, tmp_path: Path, street3: Path) -> None:
    sensor = file_sensor("s01", street3, speed=2.0, loop=True, settings={"levels_batch_s": 1})
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor])
    with Collector(broker) as collector, AgentProcess(config) as agent:
        wait_levels_after(collector, "s01", 0.0)
        assert agent.stop() == 0, agent.stderr[-3000:]
        stopped_last(collector, "s01")
    assert_no_traceback(agent)
    messages = collector.messages("s01")
    data = data_of(assert_sequences(messages))
    assert statuses(messages)[-1].envelope.sequence == len(data)
    levels = level_records(data)
    assert_contiguous(levels)
    assert levels[-1]["duration_s"] <= 1.0, "the partial interval is flushed at shutdown"
    rows, staged = read_outbox(outbox_path(config))
    assert (rows, staged) == ([], []), "everything was sent before stopped"
