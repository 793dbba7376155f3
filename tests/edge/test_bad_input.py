"""Bad recordings give one clear line (or a flag on the record), never a traceback."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from noisefleet_core.contract.levels import LEVEL_FIELDS

from .conftest import RunCli
from .helpers import FS, run_console_script, sine, write

OFFSET = 100.0


def _assert_one_error_line(err: str, *fragments: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("noisefleet-edge: error: ")
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def _unreadable(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A file that cannot be measured, and a fragment of the message it must give."""
    if kind == "missing":
        return tmp_path / "nowhere.wav", "no such file"
    if kind == "empty":
        path = tmp_path / "empty.wav"
        path.write_bytes(b"")
        return path, "empty"
    if kind == "text":
        path = tmp_path / "notes.wav"
        path.write_text("these are my field notes, not a recording\n" * 20)
        return path, "not an audio file"
    if kind == "zero-frames":
        path = write(tmp_path / "zero.wav", np.zeros(0), subtype="PCM_16")
        assert path.stat().st_size > 0  # a header, no samples
        return path, "no audio samples"
    if kind == "directory":
        path = tmp_path / "folder.wav"
        path.mkdir()
        return path, "directory"
    if kind == "garbage-riff":
        path = tmp_path / "garbage.wav"
        path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)))
        return path, "not an audio file"
    raise AssertionError(kind)


UNREADABLE = ["missing", "empty", "text", "zero-frames", "directory", "garbage-riff"]


@pytest.mark.parametrize("kind", UNREADABLE)
def test_unreadable_file_is_one_line(run_cli: RunCli, tmp_path: Path, kind: str) -> None:
    path, fragment = _unreadable(tmp_path, kind)
    result = run_cli("analyze", path, "--calibration-offset-db", OFFSET)
    assert result.code == 1
    assert result.out == ""
    _assert_one_error_line(result.err, str(path), fragment)


@pytest.mark.parametrize("kind", UNREADABLE)
def test_unreadable_calibrator_is_one_line(run_cli: RunCli, tmp_path: Path, kind: str) -> None:
    path, fragment = _unreadable(tmp_path, kind)
    result = run_cli("calibrate", path)
    assert result.code == 1
    assert result.out == ""
    _assert_one_error_line(result.err, fragment)


@pytest.mark.parametrize("kind", ["missing", "empty"])  # "text": in the test below
def test_console_script_bad_file_no_traceback(tmp_path: Path, kind: str) -> None:
    path, fragment = _unreadable(tmp_path, kind)
    completed = run_console_script("analyze", path, "--calibration-offset-db", OFFSET)
    assert completed.returncode == 1
    assert completed.stdout == ""
    _assert_one_error_line(completed.stderr, str(path), fragment)


def test_console_script_good_and_bad_file(tmp_path: Path) -> None:
    good = write(tmp_path / "good.wav", sine(0.1, 1.0), subtype="PCM_16")
    bad, _ = _unreadable(tmp_path, "text")
    completed = run_console_script("analyze", bad, good, "--calibration-offset-db", OFFSET)
    assert completed.returncode == 1
    lines = completed.stdout.splitlines()
    levels = [line for line in lines if '"kind": "levels"' in line]
    assert len(levels) == 1  # the good file's one level record (its 80 dB tone may be an event)
    assert all('"kind": "event"' in line for line in lines if line not in levels)
    _assert_one_error_line(completed.stderr, str(bad))


class TestTruncatedWav:
    @pytest.mark.parametrize(("subtype", "channels"), [("PCM_16", 1), ("PCM_24", 2), ("FLOAT", 1)])
    def test_truncated_wav_is_measured_with_a_warning(
        self, run_cli: RunCli, tmp_path: Path, subtype: str, channels: int
    ) -> None:
        data = np.stack([sine(0.1, 2.0)] * channels, axis=1)
        whole = write(tmp_path / "whole.wav", data, subtype=subtype)
        cut = tmp_path / "cut.wav"
        raw = whole.read_bytes()
        cut.write_bytes(raw[: len(raw) // 2])

        result = run_cli("analyze", cut, "--calibration-offset-db", OFFSET)

        assert result.code == 0
        assert "Traceback" not in result.err
        assert result.error_lines == []
        assert len(result.warning_lines) == 1
        warning = result.warning_lines[0]
        assert "truncated" in warning
        assert str(cut) in warning
        assert "2.00 s" in warning  # what the header declares
        records = result.records
        assert records, "the part that is there must be measured"
        measured = sum(r["duration_s"] for r in records)
        assert measured == pytest.approx(1.0, abs=0.01)
        assert records[0]["laeq_db"] == pytest.approx(80.0, abs=0.1)

    def test_intact_wav_has_no_truncation_warning(self, run_cli: RunCli, tmp_path: Path) -> None:
        path = write(tmp_path / "whole.wav", sine(0.1, 1.0), subtype="PCM_16")
        result = run_cli("analyze", path)
        assert result.code == 0
        assert result.err_lines == []

    def test_truncated_wav_console_script(self, tmp_path: Path) -> None:
        whole = write(tmp_path / "whole.wav", sine(0.1, 2.0), subtype="PCM_16")
        cut = tmp_path / "cut.wav"
        raw = whole.read_bytes()
        cut.write_bytes(raw[: len(raw) // 2])
        completed = run_console_script("analyze", cut)
        assert completed.returncode == 0
        assert "Traceback" not in completed.stderr
        assert "truncated" in completed.stderr
        assert len(completed.stdout.splitlines()) == 1


class TestInvalidSamples:
    def test_nan_samples_are_flagged_and_left_out(self, run_cli: RunCli, tmp_path: Path) -> None:
        x = sine(0.1, 2.0)
        x[round(0.4 * FS) : round(0.5 * FS)] = np.nan  # 100 ms of NaN in the first second
        x[round(1.7 * FS)] = np.inf
        path = write(tmp_path / "nan.wav", x, subtype="FLOAT")

        result = run_cli("analyze", path, "--calibration-offset-db", OFFSET)

        assert result.code == 0
        assert "Traceback" not in result.err
        first, second = result.records
        assert first["invalid_samples"] == round(0.1 * FS)
        assert first["coverage"] == pytest.approx(0.9, abs=1e-6)
        assert second["invalid_samples"] == 1
        assert second["coverage"] == pytest.approx(1 - 1 / FS, abs=1e-6)
        for record in (first, second):
            for name in LEVEL_FIELDS:
                value = record[name]
                assert value is None or math.isfinite(value), name
            assert math.isfinite(record["laeq_db"])
        # The valid samples carry the level; the gap barely changes the energy average.
        assert first["laeq_db"] == pytest.approx(80.0, abs=0.5)
        assert second["laeq_db"] == pytest.approx(80.0, abs=0.1)

    def test_nan_samples_in_table_are_flagged(self, run_cli: RunCli, tmp_path: Path) -> None:
        x = sine(0.1, 1.0)
        x[1000:1010] = np.nan
        path = write(tmp_path / "nan.wav", x, subtype="FLOAT")
        result = run_cli("analyze", path, "--format", "table", "--calibration-offset-db", OFFSET)
        assert result.code == 0
        assert "invalid=10" in result.out

    def test_all_nan_recording_gives_zero_coverage(self, run_cli: RunCli, tmp_path: Path) -> None:
        path = write(tmp_path / "allnan.wav", np.full(FS, np.nan), subtype="FLOAT")
        result = run_cli("analyze", path, "--calibration-offset-db", OFFSET)
        assert "Traceback" not in result.err
        for record in result.records:
            assert record["coverage"] == 0.0
            assert record["invalid_samples"] == FS

    def test_all_nan_recording_is_a_failure(self, run_cli: RunCli, tmp_path: Path) -> None:
        # Not one valid sample: nothing could be measured, so the exit status is non-zero and
        # one line says why (the spec: "a non-zero exit where nothing could be measured").
        path = write(tmp_path / "allnan.wav", np.full(FS, np.nan), subtype="FLOAT")
        result = run_cli("analyze", path, "--calibration-offset-db", OFFSET)
        assert "Traceback" not in result.err
        assert result.code == 1
        assert len(result.err_lines) == 1
        assert str(path) in result.err_lines[0]

    def test_nan_calibrator_is_one_line(self, run_cli: RunCli, tmp_path: Path) -> None:
        x = sine(10 ** (-26 / 20), 6.0)
        x[100] = np.nan
        path = write(tmp_path / "cal.wav", x, subtype="FLOAT")
        result = run_cli("calibrate", path)
        assert result.code == 1
        _assert_one_error_line(result.err, "non-finite")


class TestClipping:
    def test_full_scale_square_wave_is_clipped(self, run_cli: RunCli, tmp_path: Path) -> None:
        t = np.arange(2 * FS) / FS
        square = np.where(np.sin(2 * np.pi * 500 * t) >= 0, 1.0, -1.0)
        path = write(tmp_path / "square.wav", square, subtype="PCM_16")

        result = run_cli("analyze", path, "--calibration-offset-db", OFFSET)

        assert result.code == 0
        records = result.records
        assert len(records) == 2
        for record in records:
            # Every sample sits at the largest code: all of them count as clipped.
            assert record["clipped_samples"] == FS
            assert record["coverage"] == 1.0
            # A full-scale square wave has rms 1: 3.01 dB above a full-scale sine.
            assert record["lzeq_db"] == pytest.approx(OFFSET + 3.01, abs=0.05)

    def test_clipping_shows_in_the_table(self, run_cli: RunCli, tmp_path: Path) -> None:
        x = sine(0.1, 1.0)
        x[:100] = 1.0
        path = write(tmp_path / "burst.wav", x, subtype="PCM_24")
        result = run_cli("analyze", path, "--format", "table")
        assert result.code == 0
        assert "clipped=100" in result.out

    def test_float_wav_clips_at_full_scale(self, run_cli: RunCli, tmp_path: Path) -> None:
        x = sine(0.5, 1.0)
        x[10:20] = 1.5  # beyond full scale: only a float file can hold it
        path = write(tmp_path / "over.wav", x, subtype="FLOAT")
        (record,) = run_cli("analyze", path).records
        assert record["clipped_samples"] == 10

    def test_quiet_sine_is_not_clipped(self, run_cli: RunCli, tmp_path: Path) -> None:
        path = write(tmp_path / "quiet.wav", sine(0.9, 1.0), subtype="PCM_16")
        (record,) = run_cli("analyze", path).records
        assert record["clipped_samples"] == 0
