"""``noisefleet-edge demo``: generates, calibrates and measures without hardware."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import soundfile as sf

from .conftest import RunCli


def test_demo_runs_end_to_end(run_cli: RunCli, tmp_path: Path) -> None:
    output_dir = tmp_path / "demo"
    result = run_cli("demo", "--output-dir", output_dir)
    assert result.code == 0
    assert "Traceback" not in result.err

    calibrator = output_dir / "calibrator-94dB.wav"
    street = output_dir / "street.wav"
    assert calibrator.is_file()
    assert street.is_file()
    info = sf.info(str(street))
    assert info.samplerate == 48000
    assert info.duration == pytest.approx(60.0)
    assert sf.info(str(calibrator)).duration == pytest.approx(8.0)

    # The virtual microphone has -26 dBFS sensitivity: the offset must come out as 120 dB.
    assert "offset 120.00 dB" in result.out
    # 60 s in 5 s intervals: twelve table rows, all starting at the demo's fixed time.
    rows = [line for line in result.out.splitlines() if line.startswith("2026-11-24T08:")]
    assert len(rows) == 12
    assert rows[0].startswith("2026-11-24T08:00:00.000Z")
    assert rows[-1].startswith("2026-11-24T08:00:55.000Z")
    # The traffic bed is 52 dB, the horn 82 dB: every interval lies in between or near.
    laeq = [float(row.split()[2]) for row in rows]
    assert all(45.0 < level < 85.0 for level in laeq)
    traffic = laeq[0]  # 0-5 s: only the traffic bed
    assert min(laeq) == traffic
    assert laeq[4] > traffic + 15  # the horn at 24 s
    assert laeq[6] > traffic + 5  # the barking at 33 s
    assert laeq.index(max(laeq)) in (9, 10)  # the siren at 45-54 s
    minute = re.search(r"LAeq (\d+\.\d) dB over (\d+) s", result.out)
    assert minute is not None
    assert int(minute.group(2)) == 60
    assert max(laeq) - 10 < float(minute.group(1)) <= max(laeq)
    # Part 5: the agent published the same minute over a real mosquitto, within the contract.
    published = re.search(r"; (\d+) level records; status online -> stopped; 0 message", result.out)
    assert published is not None, result.out
    assert int(published.group(1)) == 60


def test_demo_creates_missing_directories(run_cli: RunCli, tmp_path: Path) -> None:
    output_dir = tmp_path / "a" / "b"
    result = run_cli("demo", "--output-dir", output_dir)
    assert result.code == 0
    assert sorted(p.name for p in output_dir.iterdir()) == [
        "agent-state",  # the agent's outbox and model store (part 5)
        "broker",
        "calibrator-94dB.wav",
        "edge.toml",
        "street.wav",
    ]


def test_demo_with_a_relative_output_dir_from_any_folder(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make demo`` passes ``--output-dir demo-output``: the agent's configuration written there
    resolves its paths against its own folder, so they must not repeat the folder."""
    monkeypatch.chdir(tmp_path)
    result = run_cli("demo", "--output-dir", "demo-output")
    assert result.code == 0, result.err
    assert "status online -> stopped; 0 message(s) broke the contract" in result.out
    config = (tmp_path / "demo-output" / "edge.toml").read_text()
    assert 'path = "street.wav"' in config
    assert 'state_dir = "agent-state"' in config
