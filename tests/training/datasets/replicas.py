"""Tiny replicas of the dataset layouts, built on the fly: short tones in the real folder shapes."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

TONE_HZ = 1000.0
CLIP_S = 0.25

US8K_COLUMNS = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")
# classID order differs from alphabetical order on purpose: labels must follow classID.
US8K_CLASSES = {0: "siren", 1: "dog_bark", 2: "car_horn"}

ESC50_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
ESC50_CLASSES = {0: "rooster", 1: "dog", 2: "rain"}
ESC10_TARGETS = frozenset({0, 2})


def tone(
    seconds: float, fs: int, freq_hz: float = TONE_HZ, channels: int = 1, amplitude: float = 0.5
) -> np.ndarray:
    """A sine; every channel carries it (scaled 1, 1/2, 1/3, ... so a mix-down is testable)."""
    t = np.arange(round(seconds * fs)) / fs
    mono = amplitude * np.sin(2 * np.pi * freq_hz * t)
    if channels == 1:
        return mono
    return np.stack([mono / (c + 1) for c in range(channels)], axis=1)


def peak_frequency_hz(x: np.ndarray, fs: int) -> float:
    """Frequency of the strongest FFT bin (Hann window)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / fs)[np.argmax(spectrum)])


def write_clip(
    path: Path,
    fs: int = 8000,
    seconds: float = CLIP_S,
    channels: int = 1,
    freq_hz: float = TONE_HZ,
    data: np.ndarray | None = None,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = tone(seconds, fs, freq_hz, channels) if data is None else data
    sf.write(str(path), samples, fs)
    return path


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([[row.get(c, "") for c in columns] for row in rows])
    return path


def us8k_rows() -> list[dict[str, str]]:
    """Two slices per official fold; both slices of a fold come from one Freesound recording."""
    rows = []
    for fold in range(1, 11):
        fs_id = 1000 + fold
        for slice_index, class_id in enumerate((fold % 3, (fold + 1) % 3)):
            rows.append(
                {
                    "slice_file_name": f"{fs_id}-{class_id}-0-{slice_index}.wav",
                    "fsID": str(fs_id),
                    "start": f"{slice_index * 4.0:.1f}",
                    "end": f"{slice_index * 4.0 + 4.0:.1f}",
                    "salience": "1",
                    "fold": str(fold),
                    "classID": str(class_id),
                    "class": US8K_CLASSES[class_id],
                }
            )
    return rows


def build_urbansound8k(
    root: Path, rows: Sequence[dict[str, str]] | None = None, columns: Sequence[str] = US8K_COLUMNS
) -> Path:
    """metadata/UrbanSound8K.csv and audio/fold{k}/ clips at mixed rates, some stereo."""
    rows = us8k_rows() if rows is None else rows
    write_csv(root / "metadata" / "UrbanSound8K.csv", columns, rows)
    for index, row in enumerate(rows):
        fs = (8000, 22050, 44100)[index % 3]
        write_clip(
            root / "audio" / f"fold{row['fold']}" / row["slice_file_name"],
            fs=fs,
            channels=1 + index % 2,
        )
    return root


def esc50_rows() -> list[dict[str, str]]:
    rows = []
    for fold in range(1, 6):
        for target, category in ESC50_CLASSES.items():
            src = f"{fold}{target}0001"
            rows.append(
                {
                    "filename": f"{fold}-{src}-A-{target}.wav",
                    "fold": str(fold),
                    "target": str(target),
                    "category": category,
                    "esc10": str(target in ESC10_TARGETS),
                    "src_file": src,
                    "take": "A",
                }
            )
    return rows


def build_esc50(
    root: Path,
    rows: Sequence[dict[str, str]] | None = None,
    columns: Sequence[str] = ESC50_COLUMNS,
) -> Path:
    """meta/esc50.csv and audio/ clips (ESC-50 ships 44.1 kHz mono; one is stereo here)."""
    rows = esc50_rows() if rows is None else rows
    write_csv(root / "meta" / "esc50.csv", columns, rows)
    for index, row in enumerate(rows):
        write_clip(root / "audio" / row["filename"], fs=44100, channels=1 + (index == 0))
    return root


def assert_one_line(error: BaseException, *fragments: str) -> str:
    """The error message is one line holding every fragment."""
    message = str(error)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message
