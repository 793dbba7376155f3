"""Audacity label tracks: parsing edge cases, writing, and labelled stretches of long recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from noisefleet_training.datasets import (
    DatasetError,
    LabelEvent,
    load_audacity_recordings,
    load_audio,
    read_label_track,
    write_label_track,
)
from noisefleet_training.datasets.audacity import background_gaps

from .replicas import assert_one_line, peak_frequency_hz, tone, write_clip

FS = 8000


def _track(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def _parse_error(tmp_path: Path, text: str, *fragments: str) -> str:
    path = _track(tmp_path / "labels.txt", text)
    with pytest.raises(DatasetError) as error:
        read_label_track(path)
    return assert_one_line(error.value, "labels.txt", *fragments)


def test_reads_labels_skipping_frequency_lines(tmp_path: Path) -> None:
    path = _track(
        tmp_path / "labels.txt",
        "1.500000\t2.250000\tdog bark\n"
        "\\\t250.000000\t4000.000000\n"
        "3.000000\t3.000000\tdoor\n"
        "\n"
        "4\t6.5\t  heavy   truck passing \n",
    )
    assert read_label_track(path) == [
        LabelEvent(1.5, 2.25, "dog bark"),
        LabelEvent(3.0, 3.0, "door"),  # a point label
        LabelEvent(4.0, 6.5, "heavy   truck passing"),  # inner spaces kept, ends stripped
    ]


def test_reads_windows_line_endings_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_bytes("\ufeff0.1\t0.2\tbird\r\n\\\t1\t2\r\n0.3\t0.4\tcar\r\n".encode())
    assert read_label_track(path) == [LabelEvent(0.1, 0.2, "bird"), LabelEvent(0.3, 0.4, "car")]


def test_an_empty_track_has_no_labels(tmp_path: Path) -> None:
    assert read_label_track(_track(tmp_path / "labels.txt", "")) == []


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("1.0\t2.0\tok\n1,5\t2.0\tbad\n", ("line 2", "start '1,5' is not a number")),
        ("1.0\t2.0\tok\n\\\t1\t2\n3.0\tlate\tbad\n", ("line 3", "end 'late' is not a number")),
        ("5.0\t4.0\tbackwards\n", ("line 1", "end 4.0 s is before start 5.0 s")),
        ("-1.0\t4.0\tearly\n", ("line 1", "start -1.0 is not a time >= 0")),
        ("nan\t4.0\tx\n", ("line 1", "start nan")),
        ("1.0\tinf\tx\n", ("line 1", "end inf is not a finite time")),
        ("1.0\t2.0\t   \n", ("line 1", "empty label")),
        ("1.0\t2.0\n", ("line 1", "expected start<TAB>end<TAB>label")),
        (
            "1.0 2.0 dog bark\n",
            ("line 1", "expected start<TAB>end<TAB>label", "'1.0 2.0 dog bark'"),
        ),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, text: str, fragments: tuple[str, ...]) -> None:
    _parse_error(tmp_path, text, *fragments)


def test_unreadable_tracks(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as missing:
        read_label_track(tmp_path / "gone.txt")
    assert_one_line(missing.value, "gone.txt", "no such file")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x80\x81\xfe")
    with pytest.raises(DatasetError) as undecodable:
        read_label_track(binary)
    assert_one_line(undecodable.value, "binary.txt", "not UTF-8")


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    events = [LabelEvent(0.0, 1.25, "dog bark"), LabelEvent(2.5, 2.5, "door"), (3.0, 4.0, "café")]
    path = tmp_path / "out.txt"
    write_label_track(path, events)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "0.000000\t1.250000\tdog bark"
    assert read_label_track(path) == [LabelEvent(*e) for e in events]


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ((1.0, 0.5, "x"), "before start"),
        ((0.0, 1.0, "a\tb"), "tab or line break"),
        ((0.0, 1.0, "\\x"), "backslash"),
        ((0.0, 1.0, ""), "empty label"),
    ],
)
def test_write_refuses_what_would_not_read_back(
    tmp_path: Path, event: tuple[float, float, str], problem: str
) -> None:
    with pytest.raises(DatasetError) as error:
        write_label_track(tmp_path / "out.txt", [(0.0, 0.5, "fine"), event])
    assert_one_line(error.value, "out.txt", "event 2", problem)


def _recording(root: Path, stem: str, seconds: float, labels: str, suffix: str = ".wav") -> Path:
    audio = write_clip(root / f"{stem}{suffix}", fs=FS, seconds=seconds)
    _track(root / f"{stem}.txt", labels)
    return audio


def test_loads_labelled_stretches_with_one_fold_per_recording(tmp_path: Path) -> None:
    for i in range(8):
        _recording(
            tmp_path / ("site_a" if i % 2 else "site_b"),
            f"rec{i}",
            3.0,
            "0.5\t1.0\tdog bark\n1.5\t2.0\tcar\n\\\t100\t2000\n2.2\t2.9\tdog bark\n",
            suffix=".FLAC" if i == 3 else ".wav",
        )
    dataset = load_audacity_recordings(tmp_path, folds=4)
    assert dataset.labels == ("car", "dog bark")
    assert len(dataset.segments) == 24
    assert dataset.skipped == ()
    by_recording: dict[Path, set[int | None]] = {}
    for segment in dataset.segments:
        by_recording.setdefault(segment.path, set()).add(segment.fold)
    assert len(by_recording) == 8
    assert all(len(folds) == 1 for folds in by_recording.values())
    assert len(set(dataset.folds)) > 1
    first = [s for s in dataset.segments if s.path.name == "rec0.wav"]
    assert [(s.start_s, s.end_s, s.label) for s in first] == [
        (0.5, 1.0, "dog bark"),
        (1.5, 2.0, "car"),
        (2.2, 2.9, "dog bark"),
    ]
    assert load_audacity_recordings(tmp_path, folds=4) == dataset  # deterministic


def test_segments_read_the_labelled_audio(tmp_path: Path) -> None:
    data = np.concatenate([tone(1.0, 44100, freq_hz=500.0), tone(1.0, 44100, freq_hz=3000.0)])
    write_clip(tmp_path / "street.wav", fs=44100, data=data)
    _track(tmp_path / "street.txt", "0.25\t0.75\thum\n1.2\t1.7\twhistle\n")
    hum, whistle = load_audacity_recordings(tmp_path).segments
    hum_audio, whistle_audio = load_audio(hum, 16000), load_audio(whistle, 16000)
    assert len(hum_audio) == len(whistle_audio) == 8000
    assert peak_frequency_hz(hum_audio, 16000) == pytest.approx(500.0, abs=2)
    assert peak_frequency_hz(whistle_audio, 16000) == pytest.approx(3000.0, abs=2)


def test_point_labels_and_overruns_are_counted(tmp_path: Path) -> None:
    _recording(tmp_path, "a", 2.0, "0.5\t0.5\tclick\n1.0\t2.4\tengine\n")
    _recording(tmp_path, "b", 2.0, "")
    write_clip(tmp_path / "unlabelled.wav", fs=FS)
    dataset = load_audacity_recordings(tmp_path)
    assert dataset.labels == ("engine",)
    (engine,) = dataset.segments
    assert engine.start_s == 1.0
    assert engine.end_s == pytest.approx(2.0)
    assert dataset.skipped == (
        "1 recordings without a label track",
        "1 point labels (start == end) holding no audio",
        "1 labels running past the end of their recording, cut at the end",
        "1 label tracks holding no labels",
    )


def test_a_label_after_the_end_of_its_recording_is_an_error(tmp_path: Path) -> None:
    _recording(tmp_path, "short", 1.0, "0.1\t0.5\tok\n5.0\t6.0\ttoo late\n")
    with pytest.raises(DatasetError) as error:
        load_audacity_recordings(tmp_path)
    assert_one_line(error.value, "short.txt line 2", "starts at 5.0 s", "short.wav (1.000 s)")


def test_a_label_track_without_its_recording(tmp_path: Path) -> None:
    _recording(tmp_path, "kept", 1.0, "0.1\t0.5\tok\n")
    _track(tmp_path / "orphan.txt", "0.1\t0.5\tok\n")
    with pytest.raises(DatasetError) as error:
        load_audacity_recordings(tmp_path)
    assert_one_line(error.value, "1 label tracks have no recording", "orphan.txt", "skip_missing")
    dataset = load_audacity_recordings(tmp_path, skip_missing=True)
    assert [s.path.name for s in dataset.segments] == ["kept.wav"]
    assert "orphan.txt" in dataset.skipped[0]


def test_two_recordings_with_one_stem_are_ambiguous(tmp_path: Path) -> None:
    _recording(tmp_path, "take", 1.0, "0.1\t0.5\tok\n")
    write_clip(tmp_path / "take.flac", fs=FS)
    with pytest.raises(DatasetError) as error:
        load_audacity_recordings(tmp_path)
    assert_one_line(error.value, "same stem", "take.txt")


def test_no_label_tracks_at_all(tmp_path: Path) -> None:
    write_clip(tmp_path / "a.wav")
    with pytest.raises(DatasetError) as error:
        load_audacity_recordings(tmp_path)
    assert_one_line(error.value, "no recording with a label track")


def test_a_bad_track_names_its_line(tmp_path: Path) -> None:
    _recording(tmp_path, "rec", 1.0, "0.1\t0.5\tok\n0.6\t0.5\tbackwards\n")
    with pytest.raises(DatasetError) as error:
        load_audacity_recordings(tmp_path)
    assert_one_line(error.value, "rec.txt line 2", "before start")


def test_background_fills_long_gaps(tmp_path: Path) -> None:
    _recording(
        tmp_path, "park", 10.0, "2.0\t3.0\tdog\n2.5\t4.0\tdog\n4.5\t5.0\tbird\n8.0\t8.0\tx\n"
    )
    dataset = load_audacity_recordings(tmp_path, background_label="background")
    assert dataset.labels == ("background", "bird", "dog")
    spans = [(s.start_s, s.end_s) for s in dataset.segments if s.label == "background"]
    assert spans == [(0.0, 2.0), (5.0, 10.0)]  # the 0.5 s gap is too short
    assert len({s.fold for s in dataset.segments}) == 1


def test_background_gaps() -> None:
    assert background_gaps([], 3.0, 1.0) == [(0.0, 3.0)]
    assert background_gaps([(0.0, 3.0)], 3.0, 1.0) == []
    assert background_gaps([(1.0, 2.0), (0.5, 1.5)], 5.0, 0.25) == [(0.0, 0.5), (2.0, 5.0)]
    assert background_gaps([(1.0, 4.0), (2.0, 3.0)], 4.5, 0.5) == [(0.0, 1.0), (4.0, 4.5)]


def test_fewer_than_two_folds(tmp_path: Path) -> None:
    _recording(tmp_path, "rec", 1.0, "0.1\t0.5\tok\n")
    with pytest.raises(DatasetError) as error:
        load_audacity_recordings(tmp_path, folds=1)
    assert_one_line(error.value, "at least 2 folds")
