"""``noisefleet-edge classify`` with the built-in default model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_edge.cli import main
from noisefleet_training.synth.settings import CLASSES

URBANSOUND8K_CLASSES = CLASSES  # the default model is trained on the generator's classes


def test_default_model_is_shipped_small_and_loads() -> None:
    folder = default_model_dir()
    assert (folder / "model.tflite").stat().st_size < 500 * 1024
    assert (folder / "MODEL_CARD.md").is_file()
    assert (folder / "report.json").is_file()
    classifier = SoundClassifier(folder)
    # The ten classes, and "ambient" (background only), which is never an event or a clip label.
    assert classifier.labels == (*URBANSOUND8K_CLASSES, "ambient")
    assert classifier.manifest.non_event_labels == ("ambient",)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    fs = 44100
    t = np.arange(3 * fs) / fs
    x = 0.2 * np.sin(2 * np.pi * (900 + 300 * np.sin(2 * np.pi * 0.5 * t)) * t)
    path = tmp_path / "clip.flac"
    sf.write(path, x, fs)
    return path


def test_classify_jsonl_record_shape(clip: Path) -> None:
    out = io.StringIO()
    assert main(["classify", str(clip), "--format", "jsonl", "--windows"], out=out) == 0
    record = json.loads(out.getvalue())
    assert set(record) == {"path", "label", "confidence", "scores", "windows"}
    assert record["label"] in (*URBANSOUND8K_CLASSES, "unknown")
    assert set(record["scores"]) == set(URBANSOUND8K_CLASSES)
    assert sum(record["scores"].values()) == pytest.approx(1.0, abs=0.02)
    assert record["confidence"] == pytest.approx(max(record["scores"].values()), abs=1e-3)
    # 3 s at 16 kHz: windows of 0.992 s every 0.496 s, the last one starting at 1.984 s.
    starts = [w["start_s"] for w in record["windows"]]
    assert starts == pytest.approx([0.0, 0.496, 0.992, 1.488, 1.984])


def test_classify_table_and_aggregation_options(clip: Path) -> None:
    out = io.StringIO()
    assert main(["classify", str(clip), "--aggregation", "majority"], out=out) == 0
    assert out.getvalue().startswith(f"{clip}: ")


def test_classify_bad_inputs_are_one_line_errors(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(8000), 16000)
    out = io.StringIO()
    code = main(["classify", str(tmp_path / "missing.wav"), str(short), str(clip)], out=out)
    assert code == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2
    assert "no such file" in errors[0]
    assert "too short" in errors[1]
    assert out.getvalue().startswith(f"{clip}: ")  # the good file is still classified


def test_classify_with_a_folder_that_is_not_a_model(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["classify", str(clip), "--model", str(tmp_path)], out=io.StringIO()) == 1
    assert "not a model folder" in capsys.readouterr().err
