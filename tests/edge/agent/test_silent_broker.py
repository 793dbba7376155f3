"""A "broker" that accepts TCP and never answers: the agent says so in one line per attempt,
with no traceback, and stops cleanly (issue 14, defect 10)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_edge import demo

from .agent_helpers import AgentProcess, file_sensor, wait_until, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_broker_that_never_answers_gives_one_line_and_no_traceback(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])  # and never answer
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    path = tmp_path / "street.wav"
    audio = demo.street_recording(np.random.default_rng(11), seconds=20)
    sf.write(path, audio[: 4 * demo.SAMPLE_RATE_HZ], demo.SAMPLE_RATE_HZ, "PCM_24")
    sensor = file_sensor("s01", path, speed=1.0, loop=True)
    config = write_config(tmp_path / "edge.toml", port, [sensor])
    try:
        with AgentProcess(config) as agent:
            wait_until(lambda: agent.stderr.count("s01:") >= 3, 60, "two failed attempts")
            assert agent.stop() == 0
    finally:
        listener.close()
        for connection in held:
            connection.close()
    log = agent.stderr
    assert "Traceback" not in log
    assert "CancelledError" not in log
    attempts = [line for line in log.splitlines() if "reconnecting in" in line]
    assert attempts
    assert all("cannot reach the broker" in line or "no answer" in line for line in attempts)
