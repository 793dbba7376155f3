"""The UrbanSound8K-layout writer: folders, CSV columns, class ids, folds."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_training.synth.clips import clip_rng, generate_clip
from noisefleet_training.synth.files import generate_dataset
from noisefleet_training.synth.settings import CLASSES, HELDOUT_SETTINGS, TRAIN_SETTINGS

COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("us8k")
    generate_dataset(out, TRAIN_SETTINGS, clips_per_class=2, seed=7, folds=2, duration_s=1.0)
    return out


def test_metadata_has_the_urbansound8k_columns_and_class_ids(dataset: Path) -> None:
    meta = dataset / "metadata" / "UrbanSound8K.csv"
    with meta.open(newline="") as handle:
        assert next(csv.reader(handle)) == COLUMNS
    rows = _rows(meta)
    assert len(rows) == 2 * len(CLASSES)
    for row in rows:
        assert CLASSES[int(row["classID"])] == row["class"]
        fs_id, class_id, occurrence, slice_id = (
            row["slice_file_name"].removesuffix(".wav").split("-")
        )
        assert (fs_id, class_id, occurrence, slice_id) == (row["fsID"], row["classID"], "0", "0")
        assert 0.0 <= float(row["start"]) < float(row["end"]) <= 1.0
        assert row["salience"] in {"1", "2"}
    assert len({row["fsID"] for row in rows}) == len(rows)


def test_every_fold_holds_every_class(dataset: Path) -> None:
    rows = _rows(dataset / "metadata" / "UrbanSound8K.csv")
    by_fold: dict[str, set[str]] = {}
    for row in rows:
        by_fold.setdefault(row["fold"], set()).add(row["class"])
    assert by_fold == {"1": set(CLASSES), "2": set(CLASSES)}


def test_audio_files_sit_in_their_fold_folders(dataset: Path) -> None:
    rows = _rows(dataset / "metadata" / "UrbanSound8K.csv")
    for row in rows:
        path = dataset / "audio" / f"fold{row['fold']}" / row["slice_file_name"]
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, 16000)
        assert info.subtype == "PCM_16"
    assert len(list((dataset / "audio").glob("fold*/*.wav"))) == len(rows)


def test_written_clips_are_the_generated_clips(dataset: Path) -> None:
    """Any clip can be regenerated alone from the seed, its class id and its index."""
    row = next(r for r in _rows(dataset / "metadata" / "UrbanSound8K.csv") if r["class"] == "siren")
    index = int(row["fsID"]) - 1 - int(row["classID"]) * 2
    expected = generate_clip(
        "siren", clip_rng(7, TRAIN_SETTINGS, 8, index), TRAIN_SETTINGS, 16000, 1.0
    )
    written, _ = sf.read(dataset / "audio" / f"fold{row['fold']}" / row["slice_file_name"])
    assert np.max(np.abs(written - expected)) < 1.0 / 32768 + 1e-9


def test_parameter_table_lists_every_clip(dataset: Path) -> None:
    params = _rows(dataset / "metadata" / "synth_parameters.csv")
    assert len(params) == 2 * len(CLASSES)
    assert {p["preset"] for p in params} == {"train"}
    assert all(TRAIN_SETTINGS.snr_db.contains(float(p["snr_db"])) for p in params)


def test_too_few_clips_for_the_folds_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="every class"):
        generate_dataset(tmp_path, TRAIN_SETTINGS, clips_per_class=2, seed=0, folds=10)


def test_worker_processes_write_the_same_data_set(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for out, workers in ((one, 1), (two, 2)):
        generate_dataset(out, HELDOUT_SETTINGS, 1, seed=3, folds=1, duration_s=0.5, workers=workers)
    assert _rows(one / "metadata" / "UrbanSound8K.csv") == _rows(
        two / "metadata" / "UrbanSound8K.csv"
    )
    for path in (one / "audio").glob("fold1/*.wav"):
        a, _ = sf.read(path)
        b, _ = sf.read(two / "audio" / "fold1" / path.name)
        np.testing.assert_array_equal(a, b)
