"""The ``python -m noisefleet_training.synth`` command: outputs, and one-line errors."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from noisefleet_training.synth.cli import main


def _one_error_line(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("noisefleet-synth: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_clips_command_writes_a_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["clips", str(tmp_path), "--per-class", "1", "--folds", "1", "--duration-s", "0.5",
         "--preset", "heldout", "--seed", "2", "--workers", "1"]
    )  # fmt: skip
    assert code == 0
    assert "wrote 10 clips (heldout preset, seed 2)" in capsys.readouterr().out
    with (tmp_path / "metadata" / "UrbanSound8K.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 10


def test_soundscapes_command_writes_audio_and_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["soundscapes", str(tmp_path), "--count", "1", "--duration-s", "8", "--seed", "1"])
    assert code == 0
    assert "wrote 1 soundscapes" in capsys.readouterr().out
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["soundscape_000.quiet.txt", "soundscape_000.txt", "soundscape_000.wav"]


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        ([], ("required",)),
        (["clips", "OUT"], ("--per-class",)),
        (["clips", "OUT", "--per-class", "zero"], ("not a whole number",)),
        (["clips", "OUT", "--per-class", "0"], ("at least 1",)),
        (["clips", "OUT", "--per-class", "3"], ("fewer than --folds 10",)),
        (["clips", "OUT", "--per-class", "10", "--preset", "test"], ("invalid choice",)),
        (["clips", "OUT", "--per-class", "10", "--seed", "-1"], ("0 or more",)),
        (["soundscapes", "OUT", "--count", "1", "--duration-s", "nan"], ("positive",)),
        (["soundscapes", "OUT", "--count", "1", "--fs", "4000"], ("8000",)),
        (["noise", "OUT"], ("invalid choice",)),
    ],
)
def test_bad_command_lines_give_one_line_and_status_2(
    argv: list[str], fragments: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(tmp_path / "out") if arg == "OUT" else arg for arg in argv]
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, *fragments)
    assert not (tmp_path / "out").exists()


def test_an_unwritable_output_gives_one_line_and_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert main(["soundscapes", str(blocker), "--count", "1", "--duration-s", "1"]) == 1
    _one_error_line(capsys.readouterr().err, "cannot write output", "not a directory")
    assert main(["soundscapes", str(blocker / "below"), "--count", "1", "--duration-s", "1"]) == 1
    _one_error_line(capsys.readouterr().err, "cannot write output")


def test_module_entry_point_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "noisefleet_training.synth",
            "clips",
            str(tmp_path),
            "--per-class",
            "x",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    _one_error_line(result.stderr, "--per-class")
