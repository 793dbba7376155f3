"""``run --check`` opens every source it can (``source_check``): a file that is not audio, a
port in use or a missing device fails the check instead of a sensor that never measures."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from noisefleet_edge.agent.config import parse_config
from noisefleet_edge.agent.main import run_agent
from noisefleet_edge.agent.source_check import check_source
from noisefleet_edge.console import CommandError
from noisefleet_edge.sources.base import SourceError


def _config_file(tmp_path: Path, sources: dict[str, dict[str, Any]]) -> Path:
    lines = ['[agent]\nsite = "lab"\nstate_dir = "state"\n']
    for sensor, source in sources.items():
        inline = ", ".join(
            f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"' for k, v in source.items()
        )
        lines.append(f'[[sensors]]\nid = "{sensor}"\nsource = {{ {inline} }}\n')
    path = tmp_path / "edge.toml"
    path.write_text("\n".join(lines))
    return path


def _sensor(tmp_path: Path, source: dict[str, Any]) -> Any:
    data = {"agent": {"site": "lab"}, "sensors": [{"id": "s1", "source": source}]}
    return parse_config(data, tmp_path / "edge.toml").sensors[0]


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "random.wav").write_bytes(np.random.default_rng(1).bytes(4096))
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "folder.wav").mkdir()
    return {
        "not an audio file": tmp_path / "random.wav",
        "the file is empty": tmp_path / "empty.wav",
        "is a directory": tmp_path / "folder.wav",
    }


def test_a_file_that_is_not_audio_fails_the_check(
    tmp_path: Path, bad_files: dict[str, Path]
) -> None:
    for reason, path in bad_files.items():
        with pytest.raises(SourceError, match=rf"^sensors\.s1\.source: .*{reason}"):
            check_source(_sensor(tmp_path, {"type": "file", "path": str(path)}))
    sf.write(tmp_path / "good.wav", np.zeros(16000), 16000)
    good = check_source(_sensor(tmp_path, {"type": "file", "path": str(tmp_path / "good.wav")}))
    assert good == "16000 Hz, 1.0 s"
    with pytest.raises(SourceError, match="channel 1 does not"):
        check_source(
            _sensor(tmp_path, {"type": "file", "path": str(tmp_path / "good.wav"), "channel": 1})
        )


def test_a_port_in_use_and_a_missing_device_fail_the_check(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        udp = {"type": "udp", "listen": f"127.0.0.1:{port}", "mcu_id": 7, "sample_rate_hz": 48000}
        with pytest.raises(SourceError, match=rf"cannot listen on udp 127.0.0.1:{port} \("):
            check_source(_sensor(tmp_path, udp))
    assert check_source(_sensor(tmp_path, udp)) == f"udp 127.0.0.1:{port} free"
    serial = {"type": "serial", "device": "/dev/ttyNOPE", "mcu_id": 7, "sample_rate_hz": 48000}
    with pytest.raises(SourceError, match="serial device /dev/ttyNOPE does not exist"):
        check_source(_sensor(tmp_path, serial))
    microphone = {"type": "microphone", "device": "no-such-microphone-anywhere"}
    with pytest.raises(SourceError, match=r"microphone no-such-microphone-anywhere: .*list-dev"):
        check_source(_sensor(tmp_path, microphone))


def test_check_names_every_broken_source_and_fails(
    tmp_path: Path, bad_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sf.write(tmp_path / "good.wav", np.zeros(16000), 16000)
    sources = {
        f"bad{n}": {"type": "file", "path": str(p)} for n, p in enumerate(bad_files.values())
    }
    config = _config_file(tmp_path, {**sources, "good": {"type": "file", "path": "good.wav"}})
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"sensors\.bad2\.source: .*is a directory"):
        run_agent(config, True, "warning", out)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, "the other two problems, one line each"
    assert err[0].startswith("noisefleet-edge: error: sensors.bad0.source: ")
    assert err[1].startswith("noisefleet-edge: error: sensors.bad1.source: ")
    assert out.getvalue() == ""
