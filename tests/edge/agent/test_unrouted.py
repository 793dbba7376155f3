"""A message nobody is subscribed to (PUBACK 0x10) stays in the outbox until somebody is.

mosquitto 2.0 forgets the shared subscriptions of the server's ingest sessions when it restarts,
until the server subscribes again, and acknowledges what it then delivers to nobody.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_core.contract.messages import LevelsMessage
from noisefleet_edge import demo
from tests.support.mosquitto import Mosquitto

from .agent_helpers import (
    AgentProcess,
    Collector,
    file_sensor,
    level_records,
    outbox_path,
    read_outbox,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.integration


def test_unrouted_messages_wait_in_the_outbox_for_a_subscriber(
    broker: Mosquitto, tmp_path: Path
) -> None:
    path = tmp_path / "street4.wav"
    audio = demo.street_recording(np.random.default_rng(4), seconds=20)
    sf.write(path, audio[: 4 * demo.SAMPLE_RATE_HZ], demo.SAMPLE_RATE_HZ, "PCM_24")
    sensor = file_sensor("s01", path, speed=4.0, settings={"levels_batch_s": 1})
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor], drain_timeout_s=60)
    with AgentProcess(config) as agent:  # nobody subscribed: everything stays
        assert agent.wait(60) == 0, agent.stderr[-3000:]
    assert "PUBACK 0x10" in agent.stderr
    assert "Traceback" not in agent.stderr
    rows, _ = read_outbox(outbox_path(config))
    assert rows, "the unrouted messages must still be in the outbox"
    with Collector(broker) as collector, AgentProcess(config) as again:
        assert again.wait(60) == 0, again.stderr[-3000:]
        wait_until(
            lambda: len(level_records(collector.messages("s01", "levels"))) == 8,
            30,
            "the held 4 level records and the second run's 4",
        )
        batches = collector.messages("s01", "levels")
    held = [m for m in batches if isinstance(m, LevelsMessage) and m.envelope.replayed]
    assert sum(len(m.records) for m in held) == 4, "held messages go out once, as replays"


def test_hold_unrouted_off_sends_to_nobody(broker: Mosquitto, tmp_path: Path) -> None:
    path = tmp_path / "street2.wav"
    audio = demo.street_recording(np.random.default_rng(2), seconds=20)
    sf.write(path, audio[: 2 * demo.SAMPLE_RATE_HZ], demo.SAMPLE_RATE_HZ, "PCM_24")
    sensor = file_sensor("s01", path, speed=4.0, settings={"levels_batch_s": 1})
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor])
    config.write_text(config.read_text().replace("[mqtt]\n", "[mqtt]\nhold_unrouted = false\n"))
    with AgentProcess(config) as agent:
        assert agent.wait(60) == 0, agent.stderr[-3000:]
    assert "PUBACK 0x10" not in agent.stderr
