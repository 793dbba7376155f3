"""``noisefleet-edge levels --live`` through the real capture path, without a sound card.

sounddevice → PortAudio → ALSA: an ``.asoundrc`` in a temporary HOME makes the ALSA default PCM
a ``file`` plugin that reads a known signal (raw int16 mono, 48 kHz) over the ``null`` device,
which paces capture in real time. The ``plug`` layer around it is needed: PortAudio asks for
float32, and without ``plug`` the ``file`` plugin would hand out the raw bytes as float32.

Needs Debian's libportaudio2 (installed by scripts/setup.sh); libasound2 brings the plugins used.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .helpers import CONSOLE_SCRIPT, FS, sine

ASOUNDRC = """\
pcm.noisefleet_test_file {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{infile}"
    format "raw"
}}
pcm.!default {{
    type plug
    slave {{
        pcm "noisefleet_test_file"
        format S16_LE
        channels 1
        rate {rate}
    }}
}}
"""

DEVICE_LINE = re.compile(r"^\d+: .+ \((\d+) ch, \d+ Hz\)$")


@pytest.fixture
def alsa_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose ALSA default capture device plays 5 s of a 1 kHz sine at 0.1."""
    infile = tmp_path / "in.raw"
    samples = np.round(sine(0.1, 5.0) * 32768).astype("<i2")
    samples.tofile(infile)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(ASOUNDRC.format(infile=infile, rate=FS))
    env = dict(os.environ)
    env["HOME"] = str(home)
    # alsa.conf also loads $XDG_CONFIG_HOME/alsa/asoundrc after ~/.asoundrc: keep the user's out.
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env.pop("ALSA_CONFIG_PATH", None)
    return env


def run_edge(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    assert CONSOLE_SCRIPT.exists(), f"console script missing: {CONSOLE_SCRIPT}"
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )


@pytest.mark.integration
def test_live_meter_through_portaudio_and_an_alsa_file_plugin(alsa_env: dict[str, str]) -> None:
    listed = run_edge(alsa_env, "levels", "--list-devices")
    assert listed.returncode == 0, listed.stderr
    assert "noisefleet-edge: error" not in listed.stderr
    inputs = [m for m in map(DEVICE_LINE.match, listed.stdout.splitlines()) if m]
    assert inputs, f"no input device listed under the ALSA file plugin: {listed.stdout!r}"
    assert all(int(m.group(1)) > 0 for m in inputs)
    assert any("default" in m.group(0) for m in inputs)

    completed = run_edge(
        alsa_env,
        "levels",
        "--live",
        "--duration-s",
        2,
        "--format",
        "jsonl",
        "--calibration-offset-db",
        100,
        "--sample-rate",
        FS,
    )
    assert "Traceback" not in completed.stderr
    assert completed.returncode == 0, completed.stderr
    messages = [line for line in completed.stderr.splitlines() if "noisefleet-edge:" in line]
    assert messages == []  # no error, and no overflow warning: no audio was lost
    records = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    assert len(records) == 2
    for record in records:
        assert record["kind"] == "levels"
        assert record["source"] == "live"
        assert record["sample_rate_hz"] == FS
        assert record["duration_s"] == pytest.approx(1.0)
        assert record["calibrated"] is True
        assert record["coverage"] == pytest.approx(1.0)
        assert record["clipped_samples"] == 0
        assert record["invalid_samples"] == 0
    # A 0.1 sine reads -20 dBFS; with the +100 dB offset, 80 dB(A) at 1 kHz.
    assert records[0]["laeq_db"] == pytest.approx(80.0, abs=0.5)
    assert records[1]["laeq_db"] == pytest.approx(80.0, abs=0.1)
    assert records[1]["laf50_db"] == pytest.approx(80.0, abs=0.1)
    assert records[0]["end"] == records[1]["start"]


MICROPHONE_SCRIPT = """
import asyncio, sys
import numpy as np
from noisefleet_edge.sources.microphone import MicrophoneSource

async def main() -> None:
    source = MicrophoneSource(None, {rate}, block_s=0.1, name="mic")
    got = []
    async for block in source.blocks():
        got.append(block)
        if sum(b.size for b in got) >= {rate} * 2:
            break
    x = np.concatenate(got)
    print(x.size, float(np.sqrt(np.mean(x[{rate} // 2:] ** 2))), source.stats.blocks,
          source.stats.dropped_frames, source.stats.lost_samples)

asyncio.run(main())
"""


@pytest.mark.integration
def test_the_agents_microphone_source_through_portaudio(alsa_env: dict[str, str]) -> None:
    """The agent's async microphone source delivers the device's samples, none lost."""
    completed = subprocess.run(
        [sys.executable, "-c", MICROPHONE_SCRIPT.format(rate=FS)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=alsa_env,
    )
    assert completed.returncode == 0, completed.stderr
    size, rms, blocks, dropped, lost = completed.stdout.split()
    assert int(size) >= 2 * FS
    # a 0.1 sine has an RMS of 0.1 / sqrt(2) (int16 quantisation is far below the tolerance)
    assert float(rms) == pytest.approx(0.1 / np.sqrt(2), rel=1e-3)
    assert int(blocks) >= 20
    assert (int(dropped), int(lost)) == (0, 0)
