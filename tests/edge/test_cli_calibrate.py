"""``noisefleet-edge calibrate``: the calibration offset from a calibrator recording."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from .conftest import RunCli
from .helpers import FS, CliResult, run_console_script, sine, write

# A 94 dB SPL calibrator on a microphone of -26 dBFS sensitivity: the tone reads -26 dBFS
# (AES17), so dB SPL = dBFS + 120.
TONE_AMPLITUDE = 10 ** (-26 / 20)
EXPECTED_OFFSET = 120.0

_USE_LINE = re.compile(r"^use:\s+--calibration-offset-db\s+(-?\d+(?:\.\d+)?)\s*$", re.MULTILINE)


def calibrator(
    seconds: float = 6.0,
    fs: int = FS,
    amplitude: float = TONE_AMPLITUDE,
    seed: int = 1,
    modulation: float = 0.0,
) -> np.ndarray:
    """A 1 kHz calibrator tone with 50 Hz hum and light broadband noise."""
    rng = np.random.default_rng(seed)
    n = round(seconds * fs)
    t = np.arange(n) / fs
    envelope = 1.0 + modulation * np.sin(2 * np.pi * 0.5 * t)
    tone = amplitude * envelope * np.sin(2 * np.pi * 1000.0 * t)
    hum = 10 ** (-66 / 20) * np.sin(2 * np.pi * 50.0 * t)
    noise = 10 ** (-80 / 20) * rng.standard_normal(n)
    return tone + hum + noise


def offset_from(result: CliResult) -> float:
    matches = _USE_LINE.findall(result.out)
    assert len(matches) == 1, result.out
    return float(matches[0])


@pytest.fixture
def calibrator_wav(tmp_path: Path) -> Path:
    return write(tmp_path / "calibrator.wav", calibrator(), subtype="PCM_24")


def test_offset_from_a_94_db_calibrator(run_cli: RunCli, calibrator_wav: Path) -> None:
    result = run_cli("calibrate", calibrator_wav)
    assert result.code == 0
    assert result.err_lines == []
    assert offset_from(result) == pytest.approx(EXPECTED_OFFSET, abs=0.05)
    assert "120.00" in result.out
    # The sensitivity line reads what a 94 dB tone gives: -26 dBFS.
    sensitivity = re.search(r"^sensitivity:\s+(-?\d+\.\d+) dBFS", result.out, re.MULTILINE)
    assert sensitivity is not None
    assert float(sensitivity.group(1)) == pytest.approx(-26.0, abs=0.05)
    tone = re.search(r"^tone:\s+(\d+\.\d) Hz", result.out, re.MULTILINE)
    assert tone is not None
    assert float(tone.group(1)) == pytest.approx(1000.0, abs=1.0)


def test_reference_114_db(run_cli: RunCli, calibrator_wav: Path) -> None:
    result = run_cli("calibrate", calibrator_wav, "--reference-db", 114)
    assert result.code == 0
    assert offset_from(result) == pytest.approx(EXPECTED_OFFSET + 20.0, abs=0.05)


@pytest.mark.parametrize(
    ("fs", "subtype", "suffix"),
    [(44100, "PCM_16", "wav"), (16000, "FLOAT", "wav"), (48000, "PCM_24", "flac")],
)
def test_offset_at_other_rates_and_formats(
    run_cli: RunCli, tmp_path: Path, fs: int, subtype: str, suffix: str
) -> None:
    path = write(tmp_path / f"cal.{suffix}", calibrator(fs=fs), fs=fs, subtype=subtype)
    result = run_cli("calibrate", path)
    assert result.code == 0
    assert offset_from(result) == pytest.approx(EXPECTED_OFFSET, abs=0.05)


def test_handling_noise_at_the_ends_is_left_out(run_cli: RunCli, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    handling = 0.05 * rng.standard_normal(FS)  # one second of bumps before and after
    x = np.concatenate([handling, calibrator(), handling[::-1]])
    path = write(tmp_path / "handled.wav", x, subtype="PCM_24")
    result = run_cli("calibrate", path)
    assert result.code == 0
    assert offset_from(result) == pytest.approx(EXPECTED_OFFSET, abs=0.05)


def test_channel_option(run_cli: RunCli, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = np.stack([0.01 * rng.standard_normal(6 * FS), calibrator(amplitude=0.1)], axis=1)
    path = write(tmp_path / "stereo.wav", data, subtype="PCM_24")
    result = run_cli("calibrate", path, "--channel", 1)
    assert result.code == 0
    assert offset_from(result) == pytest.approx(94.0 + 20.0, abs=0.05)  # tone at -20 dBFS

    missing = run_cli("calibrate", path, "--channel", 2)
    assert missing.code == 1
    assert len(missing.error_lines) == 1
    assert "channel 2" in missing.error_lines[0]


def test_unstable_tone_warns(run_cli: RunCli, tmp_path: Path) -> None:
    # +-0.4 dB of slow amplitude modulation: the calibrator is not seated well.
    path = write(tmp_path / "wobbly.wav", calibrator(modulation=0.047), subtype="PCM_24")
    result = run_cli("calibrate", path)
    assert result.code == 0
    assert offset_from(result) == pytest.approx(EXPECTED_OFFSET, abs=0.3)
    assert "Traceback" not in result.err
    assert result.error_lines == []
    assert any("fluctuat" in line for line in result.warning_lines), result.err
    fluctuation = re.search(r"^fluctuation:\s+(\d+\.\d+) dB", result.out, re.MULTILINE)
    assert fluctuation is not None
    assert float(fluctuation.group(1)) > 0.2


def test_steady_tone_reports_small_fluctuation(run_cli: RunCli, calibrator_wav: Path) -> None:
    result = run_cli("calibrate", calibrator_wav)
    fluctuation = re.search(r"^fluctuation:\s+(\d+\.\d+) dB", result.out, re.MULTILINE)
    assert fluctuation is not None
    assert float(fluctuation.group(1)) < 0.05


def test_noise_only_is_an_error(run_cli: RunCli, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    path = write(tmp_path / "noise.wav", 0.05 * rng.standard_normal(6 * FS), subtype="PCM_24")
    result = run_cli("calibrate", path)
    assert result.code == 1
    assert result.out == ""
    assert "Traceback" not in result.err
    assert len(result.err_lines) == 1
    assert result.error_lines[0].startswith("noisefleet-edge: error: ")
    assert "tone" in result.error_lines[0]


def test_silence_is_an_error(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "silence.wav", np.zeros(6 * FS), subtype="PCM_16")
    result = run_cli("calibrate", path)
    assert result.code == 1
    assert len(result.err_lines) == 1
    assert "silent" in result.error_lines[0]


def test_too_short_is_an_error(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "short.wav", calibrator(seconds=0.5), subtype="PCM_24")
    result = run_cli("calibrate", path)
    assert result.code == 1
    assert len(result.err_lines) == 1
    assert "shorter" in result.error_lines[0]


def test_noise_only_console_script(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    path = write(tmp_path / "noise.wav", 0.05 * rng.standard_normal(6 * FS), subtype="PCM_24")
    completed = run_console_script("calibrate", path)
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert len(completed.stderr.splitlines()) == 1


def test_round_trip_calibrate_then_analyze(run_cli: RunCli, calibrator_wav: Path) -> None:
    offset = offset_from(run_cli("calibrate", calibrator_wav))
    result = run_cli("analyze", calibrator_wav, "--calibration-offset-db", offset)
    assert result.code == 0
    records = result.records
    assert len(records) == 6
    for record in records:
        assert record["calibration_offset_db"] == pytest.approx(offset)
        assert record["laeq_db"] == pytest.approx(94.0, abs=0.05)
    assert records[-1]["laf50_db"] == pytest.approx(94.0, abs=0.05)


def test_round_trip_through_sensitivity(run_cli: RunCli, calibrator_wav: Path) -> None:
    calibrated = run_cli("calibrate", calibrator_wav)
    sensitivity = re.search(r"^sensitivity:\s+(-?\d+\.\d+) dBFS", calibrated.out, re.MULTILINE)
    assert sensitivity is not None
    result = run_cli("analyze", calibrator_wav, "--sensitivity-dbfs", sensitivity.group(1))
    assert result.records[-1]["laeq_db"] == pytest.approx(94.0, abs=0.05)


def test_a_sine_through_a_known_chain(run_cli: RunCli, tmp_path: Path) -> None:
    # Calibrate on the 94 dB tone, then measure a 74 dB tone through the same chain.
    cal = write(tmp_path / "cal.wav", calibrator(), subtype="PCM_24")
    quieter = write(tmp_path / "quieter.wav", sine(TONE_AMPLITUDE / 10, 2.0), subtype="PCM_24")
    offset = offset_from(run_cli("calibrate", cal))
    records = run_cli("analyze", quieter, "--calibration-offset-db", offset).records
    assert records[-1]["laeq_db"] == pytest.approx(74.0, abs=0.05)
