"""``noisefleet-edge levels``: the live meter, with a fake microphone and without a sound card."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import noisefleet_edge.cli
import noisefleet_edge.live
from noisefleet_edge.live import CaptureStats, LiveInputError

from .conftest import RunCli
from .helpers import run_console_script


@dataclass
class FakeMicrophone:
    """Stands in for ``noisefleet_edge.live.microphone_blocks``: a 1 kHz sine in blocks."""

    amplitude: float = 0.1
    overflows: int = 0
    fail_after_blocks: int | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0
    closed: bool = False

    @contextlib.contextmanager
    def __call__(
        self,
        device: str | int | None,
        sample_rate_hz: int,
        block_s: float,
        channel: int,
        stats: CaptureStats,
    ) -> Iterator[Iterator[np.ndarray]]:
        self.calls.append(
            {"device": device, "sample_rate_hz": sample_rate_hz, "block_s": block_s}
            | {"channel": channel}
        )
        stats.overflows += self.overflows
        try:
            yield self._blocks(sample_rate_hz, block_s)
        finally:
            self.closed = True

    def _blocks(self, fs: int, block_s: float) -> Iterator[np.ndarray]:
        n = round(block_s * fs)
        position = 0
        while True:
            if self.fail_after_blocks is not None and self.delivered >= self.fail_after_blocks:
                raise LiveInputError("the input device delivered no audio for 5 s")
            t = (position + np.arange(n)) / fs
            position += n
            self.delivered += 1
            yield self.amplitude * np.sin(2 * np.pi * 1000.0 * t)


@pytest.fixture
def microphone(monkeypatch: pytest.MonkeyPatch) -> FakeMicrophone:
    fake = FakeMicrophone()
    monkeypatch.setattr(noisefleet_edge.live, "microphone_blocks", fake)
    return fake


LIVE_2S = ("levels", "--live", "--duration-s", "2", "--format", "jsonl")


def test_live_meter_measures_the_fake_microphone(
    run_cli: RunCli, microphone: FakeMicrophone
) -> None:
    result = run_cli(*LIVE_2S, "--calibration-offset-db", 100)
    assert result.code == 0
    assert result.err_lines == []
    records = result.records
    assert len(records) == 2
    for record in records:
        assert record["kind"] == "levels"
        assert record["source"] == "live"
        assert record["duration_s"] == pytest.approx(1.0)
        assert record["calibrated"] is True
        assert math.isfinite(record["laeq_db"])
    assert records[0]["laeq_db"] == pytest.approx(80.0, abs=0.2)
    assert records[1]["laeq_db"] == pytest.approx(80.0, abs=0.05)
    assert records[1]["laf50_db"] == pytest.approx(80.0, abs=0.05)
    assert records[0]["end"] == records[1]["start"]
    assert records[1]["start"].endswith("Z")
    # 2 s of 0.1 s blocks, then the stream is closed.
    assert microphone.delivered == 20
    assert microphone.closed
    assert microphone.calls == [
        {"device": None, "sample_rate_hz": 48000, "block_s": 0.1, "channel": 0}
    ]


def test_live_options_reach_the_microphone(run_cli: RunCli, microphone: FakeMicrophone) -> None:
    result = run_cli(
        *LIVE_2S,
        "--device",
        "3",
        "--sample-rate",
        44100,
        "--channel",
        1,
        "--sensitivity-dbfs",
        -26,
    )
    assert result.code == 0
    (call,) = microphone.calls
    assert call == {"device": 3, "sample_rate_hz": 44100, "block_s": 0.1, "channel": 1}
    records = result.records
    assert len(records) == 2
    assert all(r["sample_rate_hz"] == 44100 for r in records)
    assert all(r["channel"] == 1 for r in records)
    assert records[1]["laeq_db"] == pytest.approx(100.0, abs=0.05)


def test_live_device_by_name(run_cli: RunCli, microphone: FakeMicrophone) -> None:
    run_cli(*LIVE_2S, "--device", "USB Mic")
    assert microphone.calls[0]["device"] == "USB Mic"


def test_live_duration_not_a_whole_number_of_blocks(
    run_cli: RunCli, microphone: FakeMicrophone
) -> None:
    result = run_cli("levels", "--live", "--duration-s", 2.55, "--format", "jsonl")
    assert result.code == 0
    # Only complete intervals are reported; capture stops once 2.55 s are in.
    assert len(result.records) == 2
    assert microphone.delivered == 26


def test_live_short_intervals(run_cli: RunCli, microphone: FakeMicrophone) -> None:
    result = run_cli(
        "levels", "--live", "--duration-s", 1, "--interval-s", 0.25, "--format", "jsonl"
    )
    assert result.code == 0
    assert [r["duration_s"] for r in result.records] == pytest.approx([0.25] * 4)
    assert result.records[-1]["laeq_db"] == pytest.approx(-20.0, abs=0.05)


def test_live_table_output(run_cli: RunCli, microphone: FakeMicrophone) -> None:
    result = run_cli(
        "levels", "--live", "--duration-s", 2, "--calibration-offset-db", 100
    )  # table is the default for the live meter
    assert result.code == 0
    assert "LAeq" in result.out
    rows = [line for line in result.out.splitlines() if line.startswith("20")]
    assert len(rows) == 2
    assert rows[1].split()[2] == "80.0"


def test_live_overflow_is_warned(run_cli: RunCli, microphone: FakeMicrophone) -> None:
    microphone.overflows = 3
    result = run_cli(*LIVE_2S)
    assert result.code == 0
    assert len(result.records) == 2
    assert len(result.warning_lines) == 1
    assert "overflowed 3" in result.warning_lines[0]


def test_live_device_that_stops_is_one_line(run_cli: RunCli, microphone: FakeMicrophone) -> None:
    microphone.fail_after_blocks = 15
    result = run_cli(*LIVE_2S)
    assert result.code == 1
    assert len(result.records) == 1  # the first second was measured before the device stopped
    assert len(result.err_lines) == 1
    assert "no audio" in result.error_lines[0]
    assert microphone.closed


def test_live_bad_interval_is_one_line(run_cli: RunCli, microphone: FakeMicrophone) -> None:
    result = run_cli(*LIVE_2S, "--interval-s", 0.01)
    assert result.code == 1
    assert len(result.err_lines) == 1
    assert "interval" in result.error_lines[0]
    assert microphone.calls == []


def test_levels_without_live_is_an_error(run_cli: RunCli, microphone: FakeMicrophone) -> None:
    result = run_cli("levels")
    assert result.code == 1
    assert result.out == ""
    assert len(result.err_lines) == 1
    assert "--live" in result.error_lines[0]
    assert microphone.calls == []


def test_list_devices(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        noisefleet_edge.live, "list_input_devices", lambda: ["0: Test Mic (1 ch, 48000 Hz)"]
    )
    result = run_cli("levels", "--list-devices")
    assert result.code == 0
    assert result.out == "0: Test Mic (1 ch, 48000 Hz)\n"


def test_list_devices_none(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(noisefleet_edge.live, "list_input_devices", lambda: [])
    result = run_cli("levels", "--list-devices")
    assert result.code == 0
    assert "no input devices" in result.out


def test_list_devices_without_portaudio_is_one_line(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> list[str]:
        raise LiveInputError("the PortAudio library is missing: install it")

    monkeypatch.setattr(noisefleet_edge.live, "list_input_devices", missing)
    result = run_cli("levels", "--list-devices")
    assert result.code == 1
    assert len(result.err_lines) == 1
    assert "PortAudio" in result.error_lines[0]


def test_live_without_a_sound_card_console_script() -> None:
    """On a machine without a microphone (or without PortAudio): one line, exit 1."""
    completed = run_console_script(
        "levels", "--live", "--duration-s", "1", "--format", "jsonl", timeout=60
    )
    assert "Traceback" not in completed.stderr
    if completed.returncode == 0:  # a real microphone answered: then it must have measured
        record = json.loads(completed.stdout.splitlines()[0])
        assert record["kind"] == "levels"
        assert record["laeq_db"] is not None
        return
    assert completed.returncode == 1
    lines = completed.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("noisefleet-edge: error: ")
    assert completed.stdout == ""


def test_levels_without_live_console_script() -> None:
    completed = run_console_script("levels", timeout=60)
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert len(completed.stderr.splitlines()) == 1
    assert "--live" in completed.stderr


def test_live_events_through_the_sensor_pipeline(
    microphone: FakeMicrophone, run_cli: RunCli
) -> None:
    """``--events``: a steady 80 dB SPL tone is reported as an event (a class, or ``unknown``
    above the 65 dB unknown level), and the level records carry energy shares."""
    result = run_cli(
        "levels", "--live", "--events", "--duration-s", "6", "--format", "jsonl",
        "--calibration-offset-db", "100", "--sample-rate", "16000",
    )  # fmt: skip
    assert result.code == 0
    assert len(result.records) == 6
    assert all("energy_shares" in r for r in result.records)
    assert result.records[-1]["laeq_db"] == pytest.approx(80.0, abs=0.1)
    assert result.events, "an 80 dB tone must be reported as an event"
    assert all(e["laeq_db"] == pytest.approx(80.0, abs=0.5) for e in result.events)
    assert microphone.closed
