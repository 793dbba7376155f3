"""Two agents with one sensor identity (a cloned SD card): each connection takes the other's
session over, and the log says what is probably going on (issue 14, defect 10)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_edge import demo
from tests.support.mosquitto import Mosquitto

from .agent_helpers import AgentProcess, file_sensor, wait_until, write_config

pytestmark = pytest.mark.integration

CLASH = "another process may be connected with the same client id park.s01"


def test_two_agents_with_one_identity_say_so(broker: Mosquitto, tmp_path: Path) -> None:
    path = tmp_path / "street.wav"
    audio = demo.street_recording(np.random.default_rng(9), seconds=20)
    sf.write(path, audio[: 4 * demo.SAMPLE_RATE_HZ], demo.SAMPLE_RATE_HZ, "PCM_24")
    sensor = file_sensor("s01", path, speed=1.0, loop=True)
    configs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        configs.append(
            write_config(folder / "edge.toml", broker.port, [sensor], state_dir=folder / "state")
        )
    with AgentProcess(configs[0]) as first, AgentProcess(configs[1]) as second:
        wait_until(lambda: CLASH in first.stderr or CLASH in second.stderr, 30, "the clash named")
        assert first.stop() == 0
        assert second.stop() == 0
    for agent in (first, second):
        assert "Disconnected during message iteration" not in agent.stderr
        assert "Traceback" not in agent.stderr
