"""ESC-50 and ESC-10: metadata CSV, 5 official folds, target order."""

from __future__ import annotations

from pathlib import Path

import pytest

from noisefleet_training.datasets import DatasetError, load_audio, load_esc50

from .replicas import ESC50_CLASSES, ESC50_COLUMNS, assert_one_line, build_esc50, esc50_rows

CSV_NAME = "esc50.csv"


def _error(root: Path, *fragments: str, esc10_only: bool = False) -> str:
    with pytest.raises(DatasetError) as error:
        load_esc50(root, esc10_only)
    return assert_one_line(error.value, *fragments)


def test_loads_every_clip_with_official_folds_and_target_order(tmp_path: Path) -> None:
    rows = esc50_rows()
    dataset = load_esc50(build_esc50(tmp_path, rows))
    assert dataset.name == "esc50"
    assert dataset.labels == ("rooster", "dog", "rain")  # target 0, 1, 2
    assert dataset.folds == (1, 2, 3, 4, 5)
    assert len(dataset.segments) == len(rows)
    for segment, row in zip(dataset.segments, rows, strict=True):
        assert segment.path == tmp_path / "audio" / row["filename"]
        assert segment.fold == int(row["fold"])
        assert dataset.labels.index(segment.label) == int(row["target"])


def test_split_by_official_fold(tmp_path: Path) -> None:
    dataset = load_esc50(build_esc50(tmp_path))
    train, test = dataset.split(3)
    assert {s.path.name.split("-")[0] for s in test.segments} == {"3"}
    assert "3" not in {s.path.name.split("-")[0] for s in train.segments}
    assert len(test.segments) == len(ESC50_CLASSES)


def test_esc10_keeps_its_classes_in_esc50_order(tmp_path: Path) -> None:
    dataset = load_esc50(build_esc50(tmp_path), esc10_only=True)
    assert dataset.name == "esc10"
    assert dataset.labels == ("rooster", "rain")
    assert {s.label for s in dataset.segments} == {"rooster", "rain"}
    assert len(dataset.segments) == 10


def test_clip_loads_as_mono_16k(tmp_path: Path) -> None:
    segment = load_esc50(build_esc50(tmp_path)).segments[0]  # the stereo one
    assert load_audio(segment, 16000).shape == (4000,)


def test_esc10_column_is_needed_only_for_esc10(tmp_path: Path) -> None:
    columns = tuple(c for c in ESC50_COLUMNS if c != "esc10")
    build_esc50(tmp_path, columns=columns)
    assert len(load_esc50(tmp_path).segments) == 15
    _error(tmp_path, CSV_NAME, "missing column esc10", esc10_only=True)


def test_bad_esc10_value(tmp_path: Path) -> None:
    rows = esc50_rows()
    rows[2]["esc10"] = "maybe"
    build_esc50(tmp_path, rows)
    _error(tmp_path, f"{CSV_NAME} line 4", "esc10 'maybe' is not True or False", esc10_only=True)


def test_missing_columns_are_all_named(tmp_path: Path) -> None:
    columns = tuple(c for c in ESC50_COLUMNS if c not in {"fold", "category"})
    build_esc50(tmp_path, columns=columns)
    _error(tmp_path, "missing columns fold, category")


def test_fold_outside_1_to_5(tmp_path: Path) -> None:
    rows = esc50_rows()
    rows[0]["fold"] = "6"
    build_esc50(tmp_path, rows)
    _error(tmp_path, f"{CSV_NAME} line 2", "fold 6 is not in 1..5")


def test_target_with_two_categories(tmp_path: Path) -> None:
    rows = esc50_rows()
    rows[5]["category"] = "cat"
    build_esc50(tmp_path, rows)
    _error(tmp_path, f"{CSV_NAME} line 7", "class id 2 is 'cat' here but 'rain' on line 4")


def test_missing_audio(tmp_path: Path) -> None:
    rows = esc50_rows()
    build_esc50(tmp_path, rows)
    (tmp_path / "audio" / rows[7]["filename"]).unlink()
    _error(tmp_path, "1 of 15 audio files", rows[7]["filename"], "skip_missing=True")
    dataset = load_esc50(tmp_path, skip_missing=True)
    assert len(dataset.segments) == 14
    assert dataset.skipped == (
        f"1 of 15 audio files listed in esc50.csv are missing: audio/{rows[7]['filename']}",
    )


def test_no_metadata_names_the_layout(tmp_path: Path) -> None:
    _error(tmp_path, "meta/esc50.csv", "no such file", "expected the ESC-50 layout")
