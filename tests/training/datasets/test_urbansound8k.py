"""UrbanSound8K: metadata CSV, official folds, classID order, and what a broken copy looks like."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from noisefleet_training.datasets import DatasetError, load_audio, load_urbansound8k

from .replicas import (
    US8K_CLASSES,
    US8K_COLUMNS,
    assert_one_line,
    build_urbansound8k,
    us8k_rows,
    write_csv,
)

CSV_NAME = "UrbanSound8K.csv"


def _error(root: Path, *fragments: str, skip_missing: bool = False) -> str:
    with pytest.raises(DatasetError) as error:
        load_urbansound8k(root, skip_missing=skip_missing)
    return assert_one_line(error.value, *fragments)


def test_loads_every_slice_with_official_folds_and_classid_order(tmp_path: Path) -> None:
    rows = us8k_rows()
    dataset = load_urbansound8k(build_urbansound8k(tmp_path, rows))
    assert dataset.name == "urbansound8k"
    assert dataset.labels == ("siren", "dog_bark", "car_horn")  # classID 0, 1, 2
    assert dataset.folds == tuple(range(1, 11))
    assert len(dataset.segments) == len(rows)
    assert dataset.skipped == ()
    for segment, row in zip(dataset.segments, rows, strict=True):
        assert segment.path == tmp_path / "audio" / f"fold{row['fold']}" / row["slice_file_name"]
        assert segment.fold == int(row["fold"])
        assert dataset.labels.index(segment.label) == int(row["classID"])
        # start/end place the slice in its Freesound source: the whole slice file is the clip.
        assert (segment.start_s, segment.end_s) == (0.0, None)


def test_cross_validation_by_fold_keeps_each_recording_on_one_side(tmp_path: Path) -> None:
    dataset = load_urbansound8k(build_urbansound8k(tmp_path))
    for fold, train, test in dataset.folds_iter():
        assert {s.path.parent.name for s in test.segments} == {f"fold{fold}"}
        fs_ids_train = {s.path.name.split("-")[0] for s in train.segments}
        fs_ids_test = {s.path.name.split("-")[0] for s in test.segments}
        assert fs_ids_train.isdisjoint(fs_ids_test)
        assert len(train.segments) + len(test.segments) == len(dataset.segments)


def test_segments_load_as_mono_16k(tmp_path: Path) -> None:
    dataset = load_urbansound8k(build_urbansound8k(tmp_path))
    for segment in dataset.segments[:6]:  # 8, 22.05 and 44.1 kHz, mono and stereo
        samples = load_audio(segment, 16000)
        assert samples.shape == (4000,)
        assert np.isfinite(samples).all()


def test_extra_and_reordered_columns_are_fine(tmp_path: Path) -> None:
    columns = ("class", "fold", "slice_file_name", "classID", "note")
    dataset = load_urbansound8k(build_urbansound8k(tmp_path, columns=columns))
    assert dataset.labels == tuple(US8K_CLASSES.values())


def test_missing_metadata_names_the_expected_layout(tmp_path: Path) -> None:
    _error(tmp_path, CSV_NAME, "no such file", "audio/fold1..10")


def test_missing_column_is_named(tmp_path: Path) -> None:
    columns = tuple(c for c in US8K_COLUMNS if c != "classID")
    build_urbansound8k(tmp_path, columns=columns)
    _error(tmp_path, CSV_NAME, "missing column classID")


def test_empty_csv(tmp_path: Path) -> None:
    (tmp_path / "metadata").mkdir()
    (tmp_path / "metadata" / CSV_NAME).write_text("")
    _error(tmp_path, CSV_NAME, "empty file")


def test_header_without_rows(tmp_path: Path) -> None:
    build_urbansound8k(tmp_path, rows=[])
    _error(tmp_path, CSV_NAME, "no rows")


@pytest.mark.parametrize(
    ("fold", "problem"),
    [("11", "fold 11 is not in 1..10"), ("0", "fold 0 is not in 1..10"), ("x", "'x' is not an")],
)
def test_bad_fold_names_the_line(tmp_path: Path, fold: str, problem: str) -> None:
    rows = us8k_rows()
    rows[4]["fold"] = fold
    build_urbansound8k(tmp_path, rows)
    _error(tmp_path, f"{CSV_NAME} line 6", problem)


def test_class_id_with_two_names_is_refused(tmp_path: Path) -> None:
    rows = us8k_rows()
    rows[4]["class"] = "jackhammer"  # classID 0 is 'siren' on line 5
    build_urbansound8k(tmp_path, rows)
    _error(tmp_path, f"{CSV_NAME} line 6", "class id 0 is 'jackhammer' here but 'siren' on line 5")


def test_class_name_with_two_ids_is_refused(tmp_path: Path) -> None:
    rows = us8k_rows()
    rows[4]["classID"] = "7"
    build_urbansound8k(tmp_path, rows)
    _error(tmp_path, f"{CSV_NAME} line 6", "class 'siren' has id 7 here but 0 on line 5")


def test_row_with_missing_fields(tmp_path: Path) -> None:
    build_urbansound8k(tmp_path)
    csv_path = tmp_path / "metadata" / CSV_NAME
    with csv_path.open("a", encoding="utf-8") as handle:
        handle.write("99-1-0-0.wav,99,0.0\n")
    _error(tmp_path, f"{CSV_NAME} line 22", "expected 8 fields, found 3")


def test_file_name_may_not_leave_the_audio_folder(tmp_path: Path) -> None:
    rows = us8k_rows()
    rows[0]["slice_file_name"] = "../../secret.wav"
    write_csv(tmp_path / "metadata" / CSV_NAME, US8K_COLUMNS, rows)
    _error(tmp_path, "line 2", "not a plain file name")


def test_slice_listed_twice(tmp_path: Path) -> None:
    rows = us8k_rows()
    build_urbansound8k(tmp_path, [*rows, rows[0]])
    _error(tmp_path, "line 22", "listed twice (first on line 2)")


def test_missing_audio_is_reported_with_count_and_examples(tmp_path: Path) -> None:
    rows = us8k_rows()
    build_urbansound8k(tmp_path, rows)
    for row in rows[:5]:
        (tmp_path / "audio" / f"fold{row['fold']}" / row["slice_file_name"]).unlink()
    message = _error(tmp_path, "5 of 20 audio files", "skip_missing=True")
    assert f"audio/fold1/{rows[0]['slice_file_name']}" in message
    assert rows[4]["slice_file_name"] not in message  # first few only


def test_skip_missing_loads_the_rest_and_counts(tmp_path: Path) -> None:
    rows = us8k_rows()
    build_urbansound8k(tmp_path, rows)
    for row in rows[:2]:  # both slices of fold 1
        (tmp_path / "audio" / f"fold{row['fold']}" / row["slice_file_name"]).unlink()
    dataset = load_urbansound8k(tmp_path, skip_missing=True)
    assert len(dataset.segments) == 18
    assert dataset.folds == tuple(range(2, 11))  # only folds that hold segments
    assert len(dataset.skipped) == 1
    assert "2 of 20 audio files" in dataset.skipped[0]


def test_all_audio_missing_is_an_error_even_when_skipping(tmp_path: Path) -> None:
    build_urbansound8k(tmp_path)
    for path in (tmp_path / "audio").rglob("*.wav"):
        path.unlink()
    _error(tmp_path, "all 20 audio files", skip_missing=True)


def test_csv_that_is_not_text(tmp_path: Path) -> None:
    (tmp_path / "metadata").mkdir()
    (tmp_path / "metadata" / CSV_NAME).write_bytes(b"\xff\xfe\x00garbage\x80\x81")
    _error(tmp_path, CSV_NAME, "not UTF-8")
