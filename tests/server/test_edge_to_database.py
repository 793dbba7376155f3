"""A real edge agent → mosquitto → the server → PostgreSQL, checked against ``analyze``;
and the registry's commands answered by the real agent."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pytest
import soundfile as sf

from noisefleet_core.contract.commands import StateReport, decode_command
from noisefleet_core.contract.topics import topic
from noisefleet_edge import demo
from noisefleet_edge.classifier import default_model_dir, read_manifest
from tests.edge.agent.agent_helpers import (
    AgentProcess,
    analyze,
    file_sensor,
    retained,
    write_config,
)
from tests.server.conftest import SERVER, ServerProcess
from tests.server.helpers import wait_for
from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LEVEL_COLUMNS = (
    "duration_s",
    "laeq_db",
    "lafmax_db",
    "lafmin_db",
    "laf10_db",
    "laf50_db",
    "laf90_db",
    "lceq_db",
    "lcpeak_db",
    "coverage",
    "calibrated",
)
EVENT_COLUMNS = (
    "label",
    "duration_s",
    "laeq_db",
    "lafmax_db",
    "lae_db",
    "confidence_peak",
    "final",
)


@pytest.fixture(scope="module")
def street(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of street noise with a passing car at 10–18 s (events)."""
    path = tmp_path_factory.mktemp("street") / "street20.wav"
    audio = demo.street_recording(np.random.default_rng(20), seconds=20)
    sf.write(path, audio, demo.SAMPLE_RATE_HZ, "PCM_24")
    return path


def test_an_agent_measuring_a_file_lands_in_the_database_equal_to_analyze(
    start_server: Callable[..., ServerProcess],
    broker: Mosquitto,
    db: psycopg.Connection,
    tmp_path: Path,
    street: Path,
) -> None:
    start_server()
    reference = analyze(street)
    assert reference.events, "the recording must hold events"
    sensor = file_sensor("s01", street, speed=5.0, settings={"levels_batch_s": 5})
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor], heartbeat_s=1)
    with AgentProcess(config) as agent:
        assert agent.wait() == 0, agent.stderr[-3000:]

    def stored_levels() -> list[tuple[object, ...]]:
        return db.execute(
            f"SELECT {', '.join(LEVEL_COLUMNS)} FROM noisefleet.levels"
            " WHERE site = 'park' AND sensor = 's01' ORDER BY start"
        ).fetchall()

    wait_for(lambda: len(stored_levels()) == len(reference.levels), what="every level record")
    expected_levels = [tuple(r[c] for c in LEVEL_COLUMNS) for r in reference.levels]
    assert stored_levels() == expected_levels
    wait_for(
        lambda: (
            db.execute("SELECT count(*) FROM noisefleet.events").fetchone()
            == (len(reference.events),)
        ),
        what="every event",
    )
    events = db.execute(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM noisefleet.events ORDER BY start"
    ).fetchall()
    expected_events = [
        tuple(
            pytest.approx(e[c], abs=1e-5) if isinstance(e[c], float) else e[c]
            for c in EVENT_COLUMNS
        )
        for e in sorted(reference.events, key=lambda e: e["start"])
    ]
    assert events == expected_events
    sensor_row = db.execute(
        "SELECT pending, status, model_name, calibration_offset_db FROM noisefleet.sensors"
    ).fetchone()
    assert sensor_row is not None
    assert sensor_row[:2] == (True, "stopped")
    assert sensor_row[3] == 120.0
    assert db.execute("SELECT count(*) FROM noisefleet.sequence_gaps").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM noisefleet.dead_letters").fetchone() == (0,)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SERVER, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_registry_commands_and_settings_acknowledged_by_the_agent_and_resent_on_restart(
    start_server: Callable[..., ServerProcess],
    broker: Mosquitto,
    db: psycopg.Connection,
    tmp_path: Path,
    street: Path,
) -> None:
    server = start_server()
    env = server.env
    sensor = file_sensor("s01", street, speed=1.0, loop=True)
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor], heartbeat_s=1)
    with AgentProcess(config) as agent:
        wait_for(
            lambda: db.execute("SELECT status FROM noisefleet.sensors").fetchone() == ("online",),
            what="the agent online",
        )
        done = _cli(env, "sensors", "list", "--pending")
        assert done.returncode == 0, done.stderr
        assert "park/s01\tpending\tonline" in done.stdout
        done = _cli(env, "sensors", "assign", "park", "s01")
        assert done.returncode == 1
        assert "site 'park' is not registered" in done.stderr
        done = _cli(
            env,
            "sites",
            "add",
            "park",
            "--kind",
            "real_estate",
            "--timezone",
            "Europe/Berlin",
            "--name",
            "Riverside Park",
            "--limit",
            "night=45",
            "--limit",
            "day=55",
        )
        assert done.returncode == 0, done.stderr
        assert _cli(env, "sensors", "assign", "park", "s01").returncode == 0
        listing = _cli(env, "sites", "list").stdout
        assert "park\treal_estate\tEurope/Berlin\tRiverside Park\tlimits day=55 night=45" in listing
        done = _cli(env, "sensors", "set", "park", "s01", "gate_level_db=50", "--timeout-s", "30")
        assert done.returncode == 0, done.stderr + done.stdout
        assert "accepted" in done.stdout
        assert '"gate_level_db": 50.0' in done.stdout
        done = _cli(env, "sensors", "set", "park", "s01", "gate_level_db=banana")
        assert done.returncode == 1
        assert "refused" in done.stdout
        done = _cli(
            env, "sensors", "push-model", "park", "s01", str(default_model_dir()),
            "--timeout-s", "60",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        assert "accepted; settings" in done.stdout
        assert f"model {read_manifest(default_model_dir()).name}" in done.stdout
        done = _cli(env, "sensors", "push-model", "park", "s01", str(tmp_path))
        assert done.returncode == 1
        assert "not a model folder" in done.stderr
        assert agent.stop() == 0
    # The agent restarts with its config's settings; the server re-sends the desired ones.
    db.execute("UPDATE noisefleet_store.sensors SET desired_settings = '{\"gate_level_db\": 50}'")
    with AgentProcess(config) as agent:

        def resent() -> bool:
            return "re-sent desired settings to park/s01" in server.log()

        wait_for(resent, what="the desired settings re-sent")

        def applied() -> bool:
            payload = retained(broker, topic("park", "s01", "state"))
            if payload is None:
                return False
            report = decode_command(topic("park", "s01", "state"), payload)
            return isinstance(report, StateReport) and report.settings["gate_level_db"] == 50.0

        wait_for(applied, what="the agent applying the re-sent settings")
        assert agent.stop() == 0
    assert db.execute("SELECT pending FROM noisefleet.sensors").fetchone() == (False,)
