"""The agent service's own decisions, without a broker: how a sensor's configuration becomes
its MQTT connection, which model is in force at start, and what its heartbeat reports."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_core.contract.messages import HeartbeatMessage, decode
from noisefleet_edge.agent import configured_model, service
from noisefleet_edge.agent.config import AgentConfig, parse_config
from noisefleet_edge.agent.outbox import Outbox
from noisefleet_edge.agent.sensor import SensorRunner
from noisefleet_edge.agent.service import Agent, AgentError, SensorSlot, link_settings
from noisefleet_edge.classifier import ClassifierError, default_model_dir
from noisefleet_edge.sources.base import SourceStats

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _config(tmp_path: Path, **sensor: object) -> AgentConfig:
    sf.write(tmp_path / "a.wav", np.zeros(16000), 16000)
    for name in ("ca.crt", "client.crt", "client.key", "s1.crt", "s1.key"):
        (tmp_path / name).write_text("x")
    (tmp_path / "pw").write_text("secret\n")
    data = {
        "agent": {"site": "park", "state_dir": str(tmp_path / "state")},
        "mqtt": {
            "host": "broker.example.org",
            "keepalive_s": 20,
            "protocol": "3.1.1",
            "tls": {
                "ca_file": str(tmp_path / "ca.crt"),
                "cert_file": str(tmp_path / "client.crt"),
                "key_file": str(tmp_path / "client.key"),
            },
        },
        "sensors": [
            {
                "id": "s1",
                "source": {"type": "file", "path": str(tmp_path / "a.wav")},
                "calibration_offset_db": 100.0,
                "calibration_date": datetime(2026, 10, 2).date(),
                **sensor,
            }
        ],
    }
    return parse_config(data, tmp_path / "edge.toml")


def test_a_sensor_connects_with_its_own_identity_and_the_agents_broker(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        username="park.s1",
        password_file=str(tmp_path / "pw"),
        client_cert_file=str(tmp_path / "s1.crt"),
        client_key_file=str(tmp_path / "s1.key"),
    )
    settings = link_settings(config, config.sensors[0])
    assert settings.host == "broker.example.org"
    assert settings.port == 8883  # TLS by default on 8883
    assert settings.client_id == "park.s1"
    assert (settings.username, settings.password) == ("park.s1", "secret")
    assert settings.tls is True
    assert settings.ca_file == tmp_path / "ca.crt"
    # the sensor's own certificate wins over the agent-wide one
    assert (settings.cert_file, settings.key_file) == (tmp_path / "s1.crt", tmp_path / "s1.key")
    assert settings.keepalive_s == 20
    assert settings.protocol == "3.1.1"
    assert "secret" not in repr(settings)


def test_the_agent_wide_client_certificate_applies_when_the_sensor_has_none(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    settings = link_settings(config, config.sensors[0])
    assert settings.cert_file == tmp_path / "client.crt"
    assert settings.username is None


def test_the_configured_model_is_put_in_the_store_and_a_new_one_replaces_it(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    agent = Agent(config, clock=lambda: T0)
    store, classifier, version = agent._model_in_force(config.sensors[0])
    assert store.current_dir() is not None
    assert store.current_dir().name == version  # type: ignore[union-attr]
    assert classifier.labels
    first = version
    # Same configuration again: the model in force stays (nothing reinstalled).
    _, _, again = Agent(config, clock=lambda: T0)._model_in_force(config.sensors[0])
    assert again == first
    # The operator configures another model folder (here: a renamed copy): it replaces it.
    other = tmp_path / "other-model"
    shutil.copytree(default_model_dir(), other)
    manifest = json.loads((other / "model.json").read_text())
    manifest["name"] = "renamed-copy"
    (other / "model.json").write_text(json.dumps(manifest))
    reconfigured = _config(tmp_path, model=str(other))
    later = datetime(2026, 11, 25, tzinfo=UTC)
    store, classifier, version = Agent(reconfigured, clock=lambda: later)._model_in_force(
        reconfigured.sensors[0]
    )
    assert classifier.manifest.name == "renamed-copy"
    assert version != first
    assert store.previous_dir() is not None  # the old one stays for a rollback


def test_touching_the_configured_model_does_not_replace_the_one_in_force(tmp_path: Path) -> None:
    """Reinstalling the edge package rewrites the shipped model's files with new times: a model
    the server pushed since must stay in force."""
    configured = tmp_path / "configured-model"
    shutil.copytree(default_model_dir(), configured)
    config = _config(tmp_path, model=str(configured))
    _, _, first = Agent(config, clock=lambda: T0)._model_in_force(config.sensors[0])
    for path in configured.iterdir():
        os.utime(path, (1_900_000_000, 1_900_000_000))
    later = datetime(2026, 11, 25, tzinfo=UTC)
    store, _, again = Agent(config, clock=lambda: later)._model_in_force(config.sensors[0])
    assert again == first
    assert store.previous_dir() is None, "nothing was installed"


def test_a_broken_model_folder_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(default_model_dir(), broken)
    (broken / "model.tflite").write_bytes(b"not a model")
    config = _config(tmp_path)
    object.__setattr__(config.sensors[0], "model_dir", broken)
    with pytest.raises(AgentError, match=r"^sensors\.s1\.model: ") as caught:
        Agent(config, clock=lambda: T0)._model_in_force(config.sensors[0])
    assert "sha" in str(caught.value).lower()
    assert "\n" not in str(caught.value)


def test_the_heartbeat_reports_the_sensors_health(tmp_path: Path) -> None:
    config = _config(tmp_path)
    agent = Agent(config, clock=lambda: T0)
    store, classifier, version = agent._model_in_force(config.sensors[0])
    outbox = Outbox(tmp_path / "outbox.sqlite", 1 << 20)
    try:
        agent._outbox = outbox
        slot = SensorSlot(config.sensors[0], store, agent._info(classifier, version))
        slot.runner = SensorRunner(
            "park", config.sensors[0], outbox, lambda: None, lambda: T0, 30.0, classifier
        )
        slot.runner.stats.backlog_drops = 3
        outbox.enqueue("s1", "noisefleet/v1/park/s1/events", lambda seq: b"{}")
        entry = outbox.enqueue("s1", "noisefleet/v1/park/s1/heartbeat", agent.heartbeat(slot, 12.5))
        message = decode(entry.topic, entry.payload)
        assert isinstance(message, HeartbeatMessage)
        assert message.envelope.sequence == 2
        assert message.cpu_percent == 12.5
        assert message.outbox_depth == 1  # read before the heartbeat itself was queued
        assert message.dropped_frames == 3
        assert message.model_name == classifier.manifest.name
        assert message.model_sha256 == classifier.manifest.model_sha256
        assert message.calibration_date == "2026-10-02"
        assert message.calibration_offset_db == 100.0
        assert message.disk_free_bytes > 0
        slot.runner.close()
    finally:
        outbox.close()


class SteppedClock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class SilentLiveSource:
    """A live source that delivers nothing, as an MCU whose every frame is refused."""

    live = True
    sample_rate_hz = 48000

    def __init__(self) -> None:
        self.stats = SourceStats(
            last_error="MCU 7 sent 22050 Hz audio; the source expects 48000 Hz"
        )
        self.never = asyncio.Event()

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        await self.never.wait()
        yield np.zeros(1)


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not condition():
            await asyncio.sleep(0.01)


def _heartbeat(agent: Agent, slot: SensorSlot, outbox: Outbox) -> HeartbeatMessage:
    entry = outbox.enqueue("s1", "noisefleet/v1/park/s1/heartbeat", agent.heartbeat(slot, 1.0))
    message = decode(entry.topic, entry.payload)
    assert isinstance(message, HeartbeatMessage)
    return message


def _slot(agent: Agent, outbox: Outbox) -> SensorSlot:
    sensor = agent.config.sensors[0]
    store, classifier, version = agent._model_in_force(sensor)
    agent._outbox = outbox
    slot = SensorSlot(sensor, store, agent._info(classifier, version))
    slot.runner = SensorRunner("park", sensor, outbox, lambda: None, agent.clock, 30.0, classifier)
    agent.slots.append(slot)
    return slot


def test_a_source_that_is_not_audio_shows_in_the_heartbeat(tmp_path: Path) -> None:
    config = _config(tmp_path)
    (tmp_path / "a.wav").write_bytes(np.random.default_rng(3).bytes(8000))  # not audio any more
    agent = Agent(config, clock=SteppedClock())
    with Outbox(tmp_path / "outbox.sqlite", 1 << 20) as outbox:
        slot = _slot(agent, outbox)

        async def go() -> HeartbeatMessage:
            supervisor = asyncio.create_task(agent._supervise(slot))
            await _until(lambda: slot.failures >= 1)
            beat = await asyncio.to_thread(_heartbeat, agent, slot, outbox)  # while it retries
            agent.stop.set()
            await supervisor
            return beat

        beat = asyncio.run(go())
        assert slot.runner is not None
        slot.runner.close()
    assert beat.source_error is not None
    assert "not an audio file" in beat.source_error
    assert beat.source_failures == 1
    assert beat.last_audio_at is None


def test_a_live_source_that_delivers_no_audio_shows_in_the_heartbeat(tmp_path: Path) -> None:
    clock = SteppedClock()
    agent = Agent(_config(tmp_path), clock=clock)
    source = SilentLiveSource()
    with Outbox(tmp_path / "outbox.sqlite", 1 << 20) as outbox:
        slot = _slot(agent, outbox)
        runner = slot.runner
        assert runner is not None

        async def go() -> tuple[HeartbeatMessage, HeartbeatMessage]:
            running = asyncio.create_task(runner.run(agent.stop, source))  # type: ignore[arg-type]
            await _until(lambda: runner.stats.started_at is not None)
            clock.now = T0 + timedelta(seconds=5)
            early = await asyncio.to_thread(_heartbeat, agent, slot, outbox)
            clock.now = T0 + timedelta(seconds=11)
            late = await asyncio.to_thread(_heartbeat, agent, slot, outbox)
            agent.stop.set()
            await running
            return early, late

        early, late = asyncio.run(go())
        runner.close()
    assert early.source_error is None, "a few seconds without audio are not a problem yet"
    assert late.source_error == (
        "no audio from the source for 11 s: MCU 7 sent 22050 Hz audio; the source expects 48000 Hz"
    )
    assert slot.problem == late.source_error


class StateRecorder:
    """Stands in for the MQTT link: keeps the state reports."""

    def __init__(self) -> None:
        self.states: list[bytes] = []

    async def publish_state(self, payload: bytes) -> bool:
        self.states.append(payload)
        return True


def _failing_run(slot: SensorSlot, error: Exception) -> list[int]:
    """Make the sensor's run raise ``error`` once, then end; the calls made."""
    calls: list[int] = []

    async def run(stop: asyncio.Event, source: object = None) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise error

    slot.runner.run = run  # type: ignore[method-assign,union-attr]
    return calls


@pytest.mark.parametrize(
    ("error", "rolled_back"),
    [
        (ClassifierError("model x: the interpreter failed (bad tensor)"), True),
        (ValueError("a bug somewhere in measuring"), False),
        (ZeroDivisionError("another bug"), False),
    ],
)
def test_only_a_model_failure_rolls_the_model_back(
    tmp_path: Path, error: Exception, rolled_back: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "RETRY_MIN_S", 0.01)
    agent = Agent(_config(tmp_path), clock=SteppedClock())
    with Outbox(tmp_path / "outbox.sqlite", 1 << 20) as outbox:
        slot = _slot(agent, outbox)
        # A second model installed, so there is something to roll back to.
        store = slot.store
        first = store.current_version()
        shutil.copytree(default_model_dir(), tmp_path / "second")
        manifest = json.loads((tmp_path / "second" / "model.json").read_text())
        manifest["name"] = "second"
        (tmp_path / "second" / "model.json").write_text(json.dumps(manifest))
        later = datetime(2026, 11, 25, tzinfo=UTC)
        archive = configured_model.archive_of(tmp_path / "second")
        store.install(
            archive, hashlib.sha256(archive).hexdigest(), configured_model.load_and_run, later
        )
        second = store.current_version()
        calls = _failing_run(slot, error)
        slot.link = StateRecorder()  # type: ignore[assignment]
        asyncio.run(agent._supervise(slot))
        assert slot.runner is not None
        slot.runner.close()
    assert calls == [1, 1], "the sensor ran again after the failure"
    assert slot.failures == 1
    assert store.current_version() == (first if rolled_back else second)
    assert len(slot.link.states) == (1 if rolled_back else 0)  # type: ignore[union-attr]
