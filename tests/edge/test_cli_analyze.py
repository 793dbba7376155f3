"""``noisefleet-edge analyze``: level records from recordings, in jsonl, csv and table form."""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from noisefleet_core.contract.levels import LEVEL_FIELDS

from .conftest import RunCli
from .helpers import FS, sine, write

# A 1 kHz sine of peak 0.1 reads -20 dBFS (AES17); with an offset of 100 dB it reads 80 dB.
AMPLITUDE = 0.1
OFFSET = 100.0
EXPECTED_DB = 80.0

REQUIRED_FIELDS = (
    "kind",
    "start",
    "end",
    "laeq_db",
    "lceq_db",
    "lzeq_db",
    "lafmax_db",
    "lafmin_db",
    "lasmax_db",
    "lae_db",
    "laf10_db",
    "laf50_db",
    "laf90_db",
    "laf_histogram",
    "coverage",
    "clipped_samples",
    "invalid_samples",
)


def _parse_utc(text: str) -> datetime:
    assert text.endswith("Z"), f"{text!r} is not written in UTC with a Z"
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0)
    return moment


@pytest.fixture
def tone_3s(tmp_path: Path) -> Path:
    return write(tmp_path / "tone.wav", sine(AMPLITUDE, 3.0), subtype="PCM_24")


class TestJsonLines:
    def test_levels_of_a_calibrated_sine(self, run_cli: RunCli, tone_3s: Path) -> None:
        result = run_cli(
            "analyze",
            tone_3s,
            "--calibration-offset-db",
            OFFSET,
            "--start-time",
            "2026-01-01T00:00:00Z",
        )
        assert result.code == 0
        assert result.err_lines == []
        records = result.records
        assert len(records) == 3
        for record in records:
            assert record["kind"] == "levels"
            missing = [name for name in REQUIRED_FIELDS if name not in record]
            assert missing == []
            assert record["duration_s"] == pytest.approx(1.0)
            assert record["calibrated"] is True
            assert record["calibration_offset_db"] == pytest.approx(OFFSET)
            assert record["coverage"] == pytest.approx(1.0)
            assert record["clipped_samples"] == 0
            assert record["invalid_samples"] == 0
            assert record["sample_rate_hz"] == FS
            assert record["channel"] == 0
            assert record["source"] == str(tone_3s)
        assert records[0]["laeq_db"] == pytest.approx(EXPECTED_DB, abs=0.2)
        for record in records[1:]:
            # A steady sine: every level of a settled interval is the same 80 dB.
            for name in (
                "laeq_db",
                "lceq_db",
                "lzeq_db",
                "lafmax_db",
                "lafmin_db",
                "laf10_db",
                "laf50_db",
                "laf90_db",
            ):
                assert record[name] == pytest.approx(EXPECTED_DB, abs=0.05), name
            # One second: LAE equals LAeq; the C peak of a sine is 3.01 dB above its level.
            assert record["lae_db"] == pytest.approx(EXPECTED_DB, abs=0.05)
            assert record["lcpeak_db"] == pytest.approx(EXPECTED_DB + 3.01, abs=0.1)
        # The S detector (tau 1 s) still rises from zero: 10*lg(1 - e^(-t)) below at t = 1, 2, 3 s.
        for seconds, record in enumerate(records, start=1):
            rise_db = 10 * math.log10(1 - math.exp(-seconds))
            assert record["lasmax_db"] == pytest.approx(EXPECTED_DB + rise_db, abs=0.1)

    def test_timestamps_follow_start_time_and_are_contiguous(
        self, run_cli: RunCli, tone_3s: Path
    ) -> None:
        result = run_cli(
            "analyze",
            tone_3s,
            "--calibration-offset-db",
            OFFSET,
            "--start-time",
            "2026-01-01T00:00:00Z",
        )
        records = result.records
        assert records[0]["start"] == "2026-01-01T00:00:00.000Z"
        assert records[0]["end"] == "2026-01-01T00:00:01.000Z"
        assert records[-1]["end"] == "2026-01-01T00:00:03.000Z"
        for before, after in itertools.pairwise(records):
            assert before["end"] == after["start"]
        for record in records:
            start, end = _parse_utc(record["start"]), _parse_utc(record["end"])
            assert (end - start).total_seconds() == pytest.approx(record["duration_s"])

    def test_start_time_with_offset_is_converted_to_utc(
        self, run_cli: RunCli, tone_3s: Path
    ) -> None:
        result = run_cli("analyze", tone_3s, "--start-time", "2026-01-01T01:00:00+01:00")
        assert result.code == 0
        assert result.records[0]["start"] == "2026-01-01T00:00:00.000Z"

    def test_histogram_holds_the_10ms_fast_levels(self, run_cli: RunCli, tone_3s: Path) -> None:
        records = run_cli("analyze", tone_3s, "--calibration-offset-db", OFFSET).records
        for record in records[1:]:
            histogram = record["laf_histogram"]
            counts = histogram["counts"]
            assert all(isinstance(c, int) and c >= 0 for c in counts)
            # L_AF is sampled every 10 ms: 100 samples in a settled one-second interval.
            assert sum(counts) == 100
            # All of them in the bin holding 80 dB.
            peak_bin = histogram["first_bin"] + int(np.argmax(counts))
            assert peak_bin * histogram["bin_width_db"] == pytest.approx(EXPECTED_DB, abs=1.0)

    def test_longer_interval_sums_exposure(self, run_cli: RunCli, tone_3s: Path) -> None:
        result = run_cli("analyze", tone_3s, "--calibration-offset-db", OFFSET, "--interval-s", 3)
        assert result.code == 0
        (record,) = result.records
        assert record["duration_s"] == pytest.approx(3.0)
        assert record["laeq_db"] == pytest.approx(EXPECTED_DB, abs=0.05)
        assert record["lae_db"] == pytest.approx(EXPECTED_DB + 10 * math.log10(3.0), abs=0.05)

    def test_partial_last_interval_is_reported(self, run_cli: RunCli, tmp_path: Path) -> None:
        path = write(tmp_path / "short.wav", sine(AMPLITUDE, 2.5), subtype="PCM_16")
        result = run_cli("analyze", path, "--calibration-offset-db", OFFSET)
        assert result.code == 0
        durations = [r["duration_s"] for r in result.records]
        assert durations == pytest.approx([1.0, 1.0, 0.5])
        assert result.records[-1]["laeq_db"] == pytest.approx(EXPECTED_DB, abs=0.05)

    def test_uncalibrated_levels_are_dbfs(self, run_cli: RunCli, tone_3s: Path) -> None:
        result = run_cli("analyze", tone_3s)
        assert result.code == 0
        for record in result.records:
            assert record["calibrated"] is False
            assert record["calibration_offset_db"] == pytest.approx(0.0)
        assert result.records[-1]["laeq_db"] == pytest.approx(-20.0, abs=0.05)

    def test_wire_field_order_matches_contract(self, run_cli: RunCli, tone_3s: Path) -> None:
        record = run_cli("analyze", tone_3s).records[0]
        keys = list(record)
        assert keys[:4] == ["kind", "start", "end", "duration_s"]
        assert keys[4 : 4 + len(LEVEL_FIELDS)] == list(LEVEL_FIELDS)


class TestStartTime:
    def test_default_start_is_mtime_minus_duration(self, run_cli: RunCli, tone_3s: Path) -> None:
        end_of_recording = datetime(2026, 3, 4, 5, 6, 10, tzinfo=UTC)
        stamp = end_of_recording.timestamp()
        os.utime(tone_3s, (stamp, stamp))
        result = run_cli("analyze", tone_3s, "--calibration-offset-db", OFFSET)
        assert result.code == 0
        records = result.records
        assert [r["start"] for r in records] == [
            "2026-03-04T05:06:07.000Z",
            "2026-03-04T05:06:08.000Z",
            "2026-03-04T05:06:09.000Z",
        ]
        assert records[-1]["end"] == "2026-03-04T05:06:10.000Z"

    def test_default_start_with_fractional_duration(self, run_cli: RunCli, tmp_path: Path) -> None:
        path = write(tmp_path / "tone.wav", sine(AMPLITUDE, 1.25, fs=16000), fs=16000)
        stamp = datetime(2026, 3, 4, 5, 6, 10, tzinfo=UTC).timestamp()
        os.utime(path, (stamp, stamp))
        records = run_cli("analyze", path).records
        assert records[0]["start"] == "2026-03-04T05:06:08.750Z"
        assert records[-1]["end"] == "2026-03-04T05:06:10.000Z"

    @pytest.mark.parametrize(
        "text",
        ["yesterday", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", ""],
        ids=["words", "no-time-zone", "bad-month", "empty"],
    )
    def test_bad_start_time_is_rejected(self, run_cli: RunCli, tone_3s: Path, text: str) -> None:
        result = run_cli("analyze", tone_3s, "--start-time", text)
        assert result.code == 1
        assert result.out == ""
        assert len(result.err_lines) == 1
        assert result.error_lines[0].startswith("noisefleet-edge: error: --start-time")


class TestCalibrationOptions:
    def test_sensitivity_equals_the_matching_offset(self, run_cli: RunCli, tone_3s: Path) -> None:
        by_sensitivity = run_cli("analyze", tone_3s, "--sensitivity-dbfs", -26).records
        by_offset = run_cli("analyze", tone_3s, "--calibration-offset-db", 120).records
        assert len(by_sensitivity) == len(by_offset) == 3
        for a, b in zip(by_sensitivity, by_offset, strict=True):
            assert a["laeq_db"] == b["laeq_db"]
            assert a["lafmax_db"] == b["lafmax_db"]
            assert a["calibration_offset_db"] == pytest.approx(120.0)
            assert a["calibrated"] is True
        assert by_sensitivity[-1]["laeq_db"] == pytest.approx(100.0, abs=0.05)

    def test_offset_and_sensitivity_together_are_a_usage_error(
        self, run_cli: RunCli, tone_3s: Path
    ) -> None:
        with pytest.raises(SystemExit) as exit_info:
            run_cli("analyze", tone_3s, "--calibration-offset-db", 100, "--sensitivity-dbfs", -26)
        assert exit_info.value.code == 2


# Every sample rate and sample format must read the same level; OGG Vorbis is lossy.
FORMATS = {
    "wav-pcm16": ({"subtype": "PCM_16"}, "wav", 0.05),
    "wav-pcm24": ({"subtype": "PCM_24"}, "wav", 0.05),
    "wav-pcm32": ({"subtype": "PCM_32"}, "wav", 0.05),
    "wav-u8": ({"subtype": "PCM_U8"}, "wav", 0.05),
    "wav-float": ({"subtype": "FLOAT"}, "wav", 0.05),
    "wav-double": ({"subtype": "DOUBLE"}, "wav", 0.05),
    "flac-16": ({"subtype": "PCM_16"}, "flac", 0.05),
    "flac-24": ({"subtype": "PCM_24"}, "flac", 0.05),
    "ogg-vorbis": ({"format": "OGG", "subtype": "VORBIS"}, "ogg", 0.5),
}


RATE_FORMAT_CASES = [
    (fs, kind)
    for kind in FORMATS
    for fs in (16000, 22050, 44100, 48000, 96000)
    if kind != "wav-u8" or fs == 48000  # one 8-bit case is enough
] + [(fs, "wav-pcm24") for fs in (8000, 11025, 12000, 32000, 88200, 192000)]


@pytest.mark.parametrize(("fs", "kind"), RATE_FORMAT_CASES)
def test_sample_rates_and_formats(run_cli: RunCli, tmp_path: Path, fs: int, kind: str) -> None:
    options, suffix, tolerance = FORMATS[kind]
    path = write(tmp_path / f"tone.{suffix}", sine(AMPLITUDE, 2.0, fs=fs), fs=fs, **options)
    result = run_cli("analyze", path, "--calibration-offset-db", OFFSET)
    assert result.code == 0, result.err
    records = result.records
    assert len(records) == 2
    assert all(r["sample_rate_hz"] == fs for r in records)
    assert records[-1]["laeq_db"] == pytest.approx(EXPECTED_DB, abs=tolerance)
    assert records[-1]["lzeq_db"] == pytest.approx(EXPECTED_DB, abs=tolerance)
    assert records[-1]["clipped_samples"] == 0


def test_sample_rate_below_the_minimum_is_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    path = write(tmp_path / "phone.wav", sine(AMPLITUDE, 1.0, fs=4000, freq=500.0), fs=4000)
    result = run_cli("analyze", path)
    assert result.code == 1
    assert result.out == ""
    assert len(result.err_lines) == 1
    assert str(path) in result.error_lines[0]
    assert "4000 Hz" in result.error_lines[0]


class TestChannels:
    @pytest.fixture
    def stereo(self, tmp_path: Path) -> Path:
        data = np.stack([sine(0.1, 2.0), sine(0.01, 2.0)], axis=1)  # 80 dB and 60 dB
        return write(tmp_path / "stereo.wav", data, subtype="PCM_24")

    def test_channel_0_is_the_default(self, run_cli: RunCli, stereo: Path) -> None:
        records = run_cli("analyze", stereo, "--calibration-offset-db", OFFSET).records
        assert len(records) == 2
        assert records[-1]["laeq_db"] == pytest.approx(80.0, abs=0.05)
        assert records[-1]["channel"] == 0

    def test_channel_1_measures_the_second(self, run_cli: RunCli, stereo: Path) -> None:
        result = run_cli("analyze", stereo, "--calibration-offset-db", OFFSET, "--channel", 1)
        assert result.code == 0
        assert result.records[-1]["laeq_db"] == pytest.approx(60.0, abs=0.05)
        assert result.records[-1]["channel"] == 1

    def test_last_of_many_channels(self, run_cli: RunCli, tmp_path: Path) -> None:
        levels = [0.3, 0.1, 0.03, 0.01, 0.003, 0.001]
        data = np.stack([sine(a, 1.0, fs=44100) for a in levels], axis=1)
        path = write(tmp_path / "six.flac", data, fs=44100, subtype="PCM_24")
        for channel, amplitude in enumerate(levels):
            records = run_cli(
                "analyze", path, "--calibration-offset-db", OFFSET, "--channel", channel
            ).records
            expected = 20 * math.log10(amplitude) + OFFSET
            assert records[-1]["laeq_db"] == pytest.approx(expected, abs=0.2)

    @pytest.mark.parametrize("channel", [2, 5, -1])
    def test_missing_channel_is_an_error(self, run_cli: RunCli, stereo: Path, channel: int) -> None:
        result = run_cli("analyze", stereo, "--channel", channel)
        assert result.code == 1
        assert result.out == ""
        assert len(result.err_lines) == 1
        line = result.error_lines[0]
        assert f"channel {channel}" in line
        assert "2 channel" in line
        assert "Traceback" not in result.err


class TestOtherFormats:
    def test_csv(self, run_cli: RunCli, tone_3s: Path) -> None:
        result = run_cli(
            "analyze",
            tone_3s,
            "--format",
            "csv",
            "--calibration-offset-db",
            OFFSET,
            "--start-time",
            "2026-01-01T00:00:00Z",
        )
        assert result.code == 0
        lines = result.out.splitlines()
        assert len(lines) == 4  # header and one row per interval
        header = lines[0].split(",")
        for name in ("start", "end", "duration_s", *LEVEL_FIELDS, "coverage", "clipped_samples"):
            assert name in header
        rows = list(csv.DictReader(io.StringIO(result.out)))
        assert len(rows) == 3
        assert rows[0]["start"] == "2026-01-01T00:00:00.000Z"
        assert rows[2]["end"] == "2026-01-01T00:00:03.000Z"
        for row in rows[1:]:
            assert float(row["laeq_db"]) == pytest.approx(EXPECTED_DB, abs=0.05)
            assert float(row["laf90_db"]) == pytest.approx(EXPECTED_DB, abs=0.05)
            assert int(row["clipped_samples"]) == 0

    def test_csv_header_once_for_several_files(
        self, run_cli: RunCli, tone_3s: Path, tmp_path: Path
    ) -> None:
        other = write(tmp_path / "other.wav", sine(0.01, 2.0), subtype="PCM_16")
        result = run_cli("analyze", tone_3s, other, "--format", "csv")
        assert result.code == 0
        rows = list(csv.DictReader(io.StringIO(result.out)))
        assert [row["source"] for row in rows] == [str(tone_3s)] * 3 + [str(other)] * 2
        assert float(rows[-1]["laeq_db"]) == pytest.approx(-40.0, abs=0.05)

    def test_table(self, run_cli: RunCli, tone_3s: Path) -> None:
        result = run_cli("analyze", tone_3s, "--format", "table", "--calibration-offset-db", OFFSET)
        assert result.code == 0
        lines = result.out.splitlines()
        header = next(line for line in lines if "LAeq" in line)
        for name in ("LAFmax", "LAF10", "LAF50", "LAF90", "LCeq", "LZeq", "LAE"):
            assert name in header
        rows = [line for line in lines if line.startswith("20")]
        assert len(rows) == 3
        for row in rows[1:]:
            cells = row.split()
            assert cells[1] == "1.0"  # duration
            assert cells[2] == "80.0"  # LAeq, one decimal
        assert result.warning_lines == []

    def test_table_without_calibration_warns_dbfs(self, run_cli: RunCli, tone_3s: Path) -> None:
        result = run_cli("analyze", tone_3s, "--format", "table")
        assert result.code == 0
        assert "dBFS" in result.out
        assert len(result.warning_lines) == 1
        assert "calibration" in result.warning_lines[0]


class TestIntervalOption:
    @pytest.mark.parametrize("interval", ["0.01", "0", "-1", "7200", "nan", "inf"])
    def test_out_of_range_interval_is_rejected(
        self, run_cli: RunCli, tone_3s: Path, interval: str
    ) -> None:
        result = run_cli("analyze", tone_3s, "--interval-s", interval)
        assert result.code == 1
        assert result.out == ""
        assert len(result.err_lines) == 1
        assert "interval" in result.error_lines[0]

    @pytest.mark.parametrize("offset", ["nan", "inf"])
    def test_non_finite_offset_is_rejected(
        self, run_cli: RunCli, tone_3s: Path, offset: str
    ) -> None:
        result = run_cli("analyze", tone_3s, "--calibration-offset-db", offset)
        assert result.code == 1
        assert result.out == ""
        assert len(result.err_lines) == 1
        assert "calibration offset" in result.error_lines[0]

    def test_non_numeric_interval_is_a_usage_error(self, run_cli: RunCli, tone_3s: Path) -> None:
        with pytest.raises(SystemExit) as exit_info:
            run_cli("analyze", tone_3s, "--interval-s", "soon")
        assert exit_info.value.code == 2

    def test_short_interval(self, run_cli: RunCli, tone_3s: Path) -> None:
        result = run_cli("analyze", tone_3s, "--interval-s", 0.1, "--calibration-offset-db", OFFSET)
        assert result.code == 0
        records = result.records
        assert len(records) == 30
        assert records[-1]["duration_s"] == pytest.approx(0.1)
        assert records[-1]["laeq_db"] == pytest.approx(EXPECTED_DB, abs=0.05)
        assert records[-1]["lae_db"] == pytest.approx(EXPECTED_DB - 10.0, abs=0.05)


class TestSeveralPaths:
    def test_good_and_missing(self, run_cli: RunCli, tone_3s: Path, tmp_path: Path) -> None:
        missing = tmp_path / "missing.wav"
        result = run_cli("analyze", missing, tone_3s, "--calibration-offset-db", OFFSET)
        assert result.code == 1
        records = result.records
        assert len(records) == 3
        assert {r["source"] for r in records} == {str(tone_3s)}
        assert records[-1]["laeq_db"] == pytest.approx(EXPECTED_DB, abs=0.05)
        assert len(result.err_lines) == 1
        assert str(missing) in result.error_lines[0]
        assert "no such file" in result.error_lines[0]

    def test_all_good(self, run_cli: RunCli, tone_3s: Path, tmp_path: Path) -> None:
        quiet = write(tmp_path / "quiet.flac", sine(0.001, 1.0), subtype="PCM_24")
        result = run_cli("analyze", tone_3s, quiet, "--calibration-offset-db", OFFSET)
        assert result.code == 0
        assert [r["source"] for r in result.records] == [str(tone_3s)] * 3 + [str(quiet)]
        assert result.records[-1]["laeq_db"] == pytest.approx(40.0, abs=0.2)
