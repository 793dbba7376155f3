"""``noisefleet-train evaluate-events``: the table, tuning and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from noisefleet_edge.classifier import default_model_dir
from noisefleet_training.cli import main
from noisefleet_training.sed.tune import read_model_thresholds


def test_evaluates_a_folder_and_prints_the_table(
    soundscapes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    assert main(["evaluate-events", str(soundscapes), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 recordings, 40 s" in text
    for line in ("overall (micro)", "macro F1", "label-agnostic", "level gate: saved inference"):
        assert line in text
    report = json.loads(out.read_text())
    metrics = report["metrics"]
    assert metrics["recordings"] == 2
    labelled = sum(
        len([line for line in p.read_text().splitlines() if line.strip()])
        for p in soundscapes.glob("*.txt")
        if not p.name.endswith(".quiet.txt")
    )
    assert metrics["reference_events"] == labelled  # the .quiet.txt tracks are not events
    for kind in ("event_based", "segment_based"):
        assert 0.0 <= metrics[kind]["f1"] <= 1.0
        assert 0.0 <= metrics["label_agnostic"][kind]["f1"] <= 1.0
    assert 0.0 <= report["gate"]["saved_fraction"] <= 1.0
    assert report["calibration_offset_db"] == 90.0


def test_tuning_writes_thresholds_that_are_read_back(
    soundscapes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    shutil.copytree(default_model_dir(), model)
    args = ["evaluate-events", str(soundscapes), "--model", str(model)]
    assert main([*args, "--tune-on", str(soundscapes), "--write-thresholds"]) == 0
    assert "thresholds written to" in capsys.readouterr().out
    onsets, offsets = read_model_thresholds(model)
    assert onsets, "classes present in the validation set get a threshold"
    assert set(onsets) == set(offsets)
    assert all(0.3 <= onsets[k] <= 0.9 and offsets[k] <= onsets[k] for k in onsets)
    manifest = json.loads((model / "model.json").read_text())
    assert manifest["detector"]["onset_thresholds"] == onsets
    out = tmp_path / "report.json"
    assert main([*args, "--json", str(out)]) == 0  # the model still loads, thresholds used
    used = json.loads(out.read_text())["onset_thresholds"]
    assert all(used[k] == v for k, v in onsets.items())


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("noisefleet-train: error:")
    return lines[0]


def test_bad_input_is_a_one_line_error(
    soundscapes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no such directory" in _error(capsys, ["evaluate-events", str(tmp_path / "nope")])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "orphan.txt").write_text("1\t2\tsiren\n")
    assert "no recording with a label track" in _error(capsys, ["evaluate-events", str(empty)])
    bad = tmp_path / "bad"
    shutil.copytree(soundscapes, bad)
    (bad / "soundscape_001.txt").write_text("1.0\tlater\tsiren\n")
    assert "line 1" in _error(capsys, ["evaluate-events", str(bad)])
    message = _error(
        capsys, ["evaluate-events", str(soundscapes), "--tune-on", str(soundscapes),
                 "--write-thresholds"],
    )  # fmt: skip
    assert "--model" in message
    assert "offset" in _error(
        capsys, ["evaluate-events", str(soundscapes), "--onset-threshold", "0.2",
                 "--offset-threshold", "0.6"],
    )  # fmt: skip
