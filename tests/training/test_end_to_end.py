"""Train -> int8 export -> classify on the edge, on a tiny ESC-50 replica (fits CI time).

One module-scoped run trains a small model (TensorFlow) on three tone-like classes; the tests
then check the model folder, the report, the int8/float agreement, the edge's classify command,
and that the edge refuses a model with other feature parameters or a corrupt file.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_edge.cli import main as edge_main
from noisefleet_training.cli import main as train_main
from tests.training.datasets.replicas import ESC50_COLUMNS, write_csv

FS = 22050
CLASSES = {0: "low_hum", 1: "whistle", 2: "hiss"}
FOLDS = 5
CLIPS_PER_FOLD = 3


def _clip(label: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(round(2.0 * FS)) / FS
    if label == "low_hum":
        x = np.sin(2 * np.pi * rng.uniform(120, 200) * t) + 0.5 * np.sin(
            2 * np.pi * rng.uniform(240, 400) * t
        )
    elif label == "whistle":
        x = np.sin(2 * np.pi * (rng.uniform(2000, 3000) + 300 * np.sin(2 * np.pi * 3 * t)) * t)
    else:
        x = rng.standard_normal(t.size)
    x *= rng.uniform(0.05, 0.3) / np.max(np.abs(x))
    return x + 0.002 * rng.standard_normal(t.size)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("esc50")
    out = tmp_path_factory.mktemp("model") / "tones"
    rng = np.random.default_rng(0)
    rows = []
    for fold in range(1, FOLDS + 1):
        for target, label in CLASSES.items():
            for take in range(CLIPS_PER_FOLD):
                name = f"{fold}-{target}{take}-A-{target}.wav"
                (root / "audio").mkdir(exist_ok=True)
                sf.write(root / "audio" / name, _clip(label, rng), FS)
                rows.append(
                    {
                        "filename": name,
                        "fold": str(fold),
                        "target": str(target),
                        "category": label,
                        "esc10": "False",
                        "src_file": f"{target}{take}",
                        "take": "A",
                    }
                )
    write_csv(root / "meta" / "esc50.csv", ESC50_COLUMNS, rows)
    code = train_main(
        ["train", "--dataset", "esc50", "--root", str(root), "--out", str(out),
         "--epochs", "40", "--width", "8", "--augment", "none", "--quiet"]
    )  # fmt: skip
    assert code == 0
    return root, out


def test_model_folder_holds_model_manifest_card_and_report(trained: tuple[Path, Path]) -> None:
    _, out = trained
    for name in (
        "model.tflite",
        "model.json",
        "MODEL_CARD.md",
        "report.json",
        "confusion_test.png",
    ):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["labels"] == list(CLASSES.values())
    report = json.loads((out / "report.json").read_text())
    test = report["splits"]["test"]
    assert test["int8_float_agreement"] >= 0.99
    assert test["int8"]["clips"] == len(CLASSES) * CLIPS_PER_FOLD
    assert test["int8"]["clip_accuracy"] >= 0.8  # three easy classes
    assert 0.0 <= test["baseline_clip_accuracy"] <= 1.0
    assert set(test["int8"]["per_class"]) == set(CLASSES.values())
    assert report["model"]["macc"] > 0
    assert report["model"]["tflite_bytes"] == (out / "model.tflite").stat().st_size
    card = (out / "MODEL_CARD.md").read_text()
    assert "MACC" in card
    assert "int8" in card


def test_edge_classifies_with_the_exported_model(trained: tuple[Path, Path]) -> None:
    root, out = trained
    clip = next(root.glob("audio/5-1*-A-1.wav"))  # a whistle from the test fold
    buffer = io.StringIO()
    code = edge_main(
        ["classify", str(clip), "--model", str(out), "--format", "jsonl", "--windows"], out=buffer
    )
    assert code == 0
    record = json.loads(buffer.getvalue())
    assert record["path"] == str(clip)
    assert record["label"] == "whistle"
    assert record["confidence"] == pytest.approx(record["scores"]["whistle"], abs=1e-3)
    assert sum(record["scores"].values()) == pytest.approx(1.0, abs=0.02)
    assert len(record["windows"]) >= 2
    assert record["windows"][1]["start_s"] == pytest.approx(0.496)


def test_edge_refuses_a_model_with_other_features(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, out = trained
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    (tampered / "model.tflite").write_bytes((out / "model.tflite").read_bytes())
    manifest = json.loads((out / "model.json").read_text())
    manifest["feature_params"]["hop_length"] = 320
    (tampered / "model.json").write_text(json.dumps(manifest))
    clip = next(root.glob("audio/*.wav"))
    code = edge_main(["classify", str(clip), "--model", str(tampered)], out=io.StringIO())
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "retrain the model" in err[0]


def test_edge_refuses_a_corrupt_model_file(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, out = trained
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "model.tflite").write_bytes((out / "model.tflite").read_bytes()[:-10])
    (corrupt / "model.json").write_text((out / "model.json").read_text())
    clip = next(root.glob("audio/*.wav"))
    assert edge_main(["classify", str(clip), "--model", str(corrupt)], out=io.StringIO()) == 1
    assert "SHA-256" in capsys.readouterr().err


def test_train_reports_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = train_main(
        ["train", "--dataset", "esc50", "--root", str(tmp_path / "nope"), "--out", str(tmp_path)]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("noisefleet-train: error:")
