"""One folder per class: labels, file discovery, stable folds that keep recordings whole."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from noisefleet_training.datasets import DatasetError, load_class_folders
from noisefleet_training.datasets.folders import DEFAULT_FOLDS, DEFAULT_GROUP_PATTERN, group_key

from .replicas import assert_one_line, write_clip


def _build(root: Path, per_class: int = 12) -> Path:
    for label in ("siren", "dog_bark", "car_horn"):
        for i in range(per_class):
            write_clip(root / label / f"{label}_{i:02d}.wav", fs=8000, seconds=0.05)
    return root


def _folds_by_name(
    root: Path, folds: int = DEFAULT_FOLDS, group_pattern: str | None = DEFAULT_GROUP_PATTERN
) -> dict[str, int | None]:
    dataset = load_class_folders(root, folds, group_pattern=group_pattern)
    return {s.path.relative_to(root).as_posix(): s.fold for s in dataset.segments}


def test_each_folder_is_a_class_with_sorted_labels(tmp_path: Path) -> None:
    dataset = load_class_folders(_build(tmp_path, per_class=4))
    assert dataset.labels == ("car_horn", "dog_bark", "siren")
    assert len(dataset.segments) == 12
    assert all(s.path.parent.name == s.label for s in dataset.segments)
    assert dataset.skipped == ()
    assert dataset.name == f"folders:{tmp_path.name}"


def test_suffixes_are_case_insensitive_and_subfolders_belong_to_the_class(tmp_path: Path) -> None:
    write_clip(tmp_path / "rain" / "a.WAV")
    write_clip(tmp_path / "rain" / "b.Flac")
    write_clip(tmp_path / "rain" / "night" / "c.ogg")
    write_clip(tmp_path / "wind" / "d.wav", channels=2)
    dataset = load_class_folders(tmp_path)
    names = sorted(s.path.name for s in dataset.segments if s.label == "rain")
    assert names == ["a.WAV", "b.Flac", "c.ogg"]


def test_hidden_and_other_files_are_left_out_and_counted(tmp_path: Path) -> None:
    write_clip(tmp_path / "rain" / "a.wav")
    (tmp_path / "rain" / "._a.wav").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (tmp_path / "rain" / ".DS_Store").write_bytes(b"\x00")
    (tmp_path / "rain" / "notes.md").write_text("recorded in the rain")
    (tmp_path / "README.txt").write_text("my dataset")
    write_clip(tmp_path / ".trash" / "old.wav")  # a hidden folder is not a class
    dataset = load_class_folders(tmp_path)
    assert dataset.labels == ("rain",)
    assert [s.path.name for s in dataset.segments] == ["a.wav"]
    assert dataset.skipped == ("4 files that are not wav/flac/ogg or are hidden",)


def test_folds_are_deterministic_and_cover_all(tmp_path: Path) -> None:
    root = _build(tmp_path)
    first = _folds_by_name(root)
    assert first == _folds_by_name(root)
    assert set(first.values()) == {1, 2, 3, 4, 5}
    dataset = load_class_folders(root)
    assert dataset.folds == (1, 2, 3, 4, 5)
    for _, train, test in dataset.folds_iter():
        assert set(train.segments).isdisjoint(test.segments)


def test_folds_do_not_depend_on_where_the_dataset_lives(tmp_path: Path) -> None:
    root = _build(tmp_path / "here")
    moved = shutil.copytree(root, tmp_path / "elsewhere" / "copy")
    assert _folds_by_name(root) == _folds_by_name(moved)


def test_adding_files_moves_no_existing_file(tmp_path: Path) -> None:
    root = _build(tmp_path)
    before = _folds_by_name(root)
    write_clip(root / "siren" / "new_recording.wav")
    write_clip(root / "thunder" / "first.wav")
    after = _folds_by_name(root)
    assert {name: after[name] for name in before} == before


def test_fold_count_is_respected(tmp_path: Path) -> None:
    folds = _folds_by_name(_build(tmp_path), folds=3)
    assert set(folds.values()) == {1, 2, 3}


def test_slices_of_one_recording_share_a_fold_across_classes(tmp_path: Path) -> None:
    # UrbanSound8K-style names: {fsID}-{classID}-{occurrence}-{slice}; recording 7061 holds
    # both a dog bark and a siren.
    for fs_id in (7061, 15544, 99180):
        for slice_index in range(6):
            label, class_id = ("dog_bark", 3) if slice_index % 2 else ("siren", 8)
            write_clip(tmp_path / label / f"{fs_id}-{class_id}-0-{slice_index}.wav", seconds=0.05)
    for i in range(6):
        write_clip(tmp_path / "siren" / f"field_{i}.wav", seconds=0.05)

    grouped = load_class_folders(tmp_path, folds=5)
    for recording in ("7061", "15544", "99180"):
        slices = [s for s in grouped.segments if s.path.name.startswith(f"{recording}-")]
        folds = {s.fold for s in slices}
        labels = {s.label for s in slices}
        assert len(folds) == 1, (recording, folds)
        assert labels == {"dog_bark", "siren"}

    ungrouped = load_class_folders(tmp_path, folds=5, group_pattern=None)
    spread = {s.fold for s in ungrouped.segments if s.path.name.startswith("7061-")}
    assert len(spread) > 1  # without grouping, slices of one recording scatter over folds


def test_group_key_rule() -> None:
    regex = re.compile(DEFAULT_GROUP_PATTERN)
    assert group_key(Path("dog/100032-3-0-0.wav"), regex) == "recording:100032"
    assert group_key(Path("dog/bark-01.wav"), regex) == "file:dog/bark-01.wav"
    assert group_key(Path("dog/100032-3-0-0.wav"), None) == "file:dog/100032-3-0-0.wav"


def test_custom_group_pattern(tmp_path: Path) -> None:
    for session in ("mon", "tue"):
        for i in range(5):
            write_clip(tmp_path / "rain" / f"site3_{session}_{i}.wav", seconds=0.05)
    folds = _folds_by_name(tmp_path, group_pattern=r"^(site\d+_[a-z]+)_")
    assert len({f for name, f in folds.items() if "_mon_" in name}) == 1
    assert len({f for name, f in folds.items() if "_tue_" in name}) == 1


@pytest.mark.parametrize(
    ("pattern", "problem"), [("(unclosed", "not a regular expression"), (r"^\d+-", "needs a group")]
)
def test_bad_group_pattern(tmp_path: Path, pattern: str, problem: str) -> None:
    _build(tmp_path, per_class=1)
    with pytest.raises(DatasetError) as error:
        load_class_folders(tmp_path, group_pattern=pattern)
    assert_one_line(error.value, problem)


def test_empty_class_folder_is_an_error(tmp_path: Path) -> None:
    write_clip(tmp_path / "rain" / "a.wav")
    (tmp_path / "wind").mkdir()
    (tmp_path / "wind" / "readme.txt").write_text("todo")
    with pytest.raises(DatasetError) as error:
        load_class_folders(tmp_path)
    assert_one_line(error.value, "wind", "holds no wav, flac or ogg files")


def test_no_class_folders(tmp_path: Path) -> None:
    write_clip(tmp_path / "loose.wav")
    with pytest.raises(DatasetError) as error:
        load_class_folders(tmp_path)
    assert_one_line(error.value, str(tmp_path), "no class folders")


def test_fewer_than_two_folds(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as error:
        load_class_folders(_build(tmp_path, per_class=1), folds=1)
    assert_one_line(error.value, "at least 2 folds")


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as error:
        load_class_folders(tmp_path / "nowhere")
    assert_one_line(error.value, "nowhere", "no such directory")
