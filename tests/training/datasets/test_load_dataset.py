"""The dispatcher: every kind by name, and clear errors for unknown kinds and missing roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from noisefleet_training.datasets import DATASET_KINDS, DatasetError, load_dataset

from .replicas import assert_one_line, build_esc50, build_urbansound8k, write_clip


def _audacity(root: Path) -> Path:
    for i in range(4):
        write_clip(root / f"rec{i}.wav", seconds=0.5)
        (root / f"rec{i}.txt").write_text("0.1\t0.3\tbird\n", encoding="utf-8")
    return root


def _folders(root: Path) -> Path:
    for label in ("bird", "wind"):
        for i in range(4):
            write_clip(root / label / f"{i}.wav", seconds=0.05)
    return root


def test_every_kind_loads(tmp_path: Path) -> None:
    assert load_dataset("urbansound8k", build_urbansound8k(tmp_path / "us")).name == "urbansound8k"
    assert load_dataset("ESC50", build_esc50(tmp_path / "esc")).name == "esc50"
    assert load_dataset("folders", _folders(tmp_path / "f")).labels == ("bird", "wind")
    assert load_dataset("audacity", _audacity(tmp_path / "a")).labels == ("bird",)
    assert DATASET_KINDS == ("urbansound8k", "esc50", "folders", "audacity")


def test_folds_option_reaches_the_derived_kinds(tmp_path: Path) -> None:
    folders = load_dataset("folders", _folders(tmp_path / "f"), folds=2)
    assert set(folders.folds) <= {1, 2}
    audacity = load_dataset("audacity", _audacity(tmp_path / "a"), folds=2)
    assert set(audacity.folds) <= {1, 2}


@pytest.mark.parametrize("kind", ["urbansound8k", "esc50"])
def test_official_folds_cannot_be_overridden(tmp_path: Path, kind: str) -> None:
    with pytest.raises(DatasetError) as error:
        load_dataset(kind, tmp_path, folds=3)
    assert_one_line(error.value, kind, "official folds")


def test_skip_missing_reaches_the_metadata_kinds(tmp_path: Path) -> None:
    root = build_urbansound8k(tmp_path)
    next((root / "audio" / "fold1").iterdir()).unlink()
    with pytest.raises(DatasetError, match="1 of 20"):
        load_dataset("urbansound8k", root)
    assert len(load_dataset("urbansound8k", root, skip_missing=True).segments) == 19


def test_unknown_kind_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as error:
        load_dataset("audioset", tmp_path)
    assert_one_line(error.value, "'audioset'", "urbansound8k, esc50, folders, audacity")


def test_root_must_exist_and_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as missing:
        load_dataset("esc50", tmp_path / "ESC-50-master")
    assert_one_line(missing.value, "ESC-50-master", "no such directory")
    a_file = write_clip(tmp_path / "clip.wav")
    with pytest.raises(DatasetError) as not_dir:
        load_dataset("folders", a_file)
    assert_one_line(not_dir.value, "clip.wav", "not a directory")


def test_dataset_error_is_a_value_error() -> None:
    assert issubclass(DatasetError, ValueError)
