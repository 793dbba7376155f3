"""A sensor that cannot measure says so on its retained status: ``degraded`` with the reason
(issue 14, defect 5), so the server can alert on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from noisefleet_core.contract.messages import StatusMessage
from tests.support.mosquitto import Mosquitto

from .agent_helpers import AgentProcess, Collector, file_sensor, wait_until, write_config

pytestmark = pytest.mark.integration


def test_a_sensor_whose_source_is_not_audio_is_degraded_with_the_reason(
    broker: Mosquitto, tmp_path: Path
) -> None:
    bad = tmp_path / "noise.wav"
    bad.write_bytes(np.random.default_rng(5).bytes(8000))
    sensor = file_sensor("s01", bad, speed=1.0, loop=True)
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor], heartbeat_s=1)
    with Collector(broker) as collector, AgentProcess(config) as agent:

        def degraded() -> list[StatusMessage]:
            return [
                m
                for m in collector.messages("s01", "status")
                if isinstance(m, StatusMessage) and m.state == "degraded"
            ]

        wait_until(lambda: bool(degraded()), 30, "a degraded status")
        assert agent.stop() == 0, agent.stderr[-3000:]
    status = degraded()[0]
    assert status.reason is not None
    assert "not an audio file" in status.reason
    states = [m.state for m in collector.messages("s01", "status") if isinstance(m, StatusMessage)]
    assert states[0] == "online"
    assert states[-1] == "stopped"
    assert "Traceback" not in agent.stderr
