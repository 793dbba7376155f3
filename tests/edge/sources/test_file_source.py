"""File playback as a sensor: every sample, in order, at the requested pace."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_edge.sources.base import SourceError
from noisefleet_edge.sources.file import FileSource


def _wav(path: Path, seconds: float, fs: int = 8000) -> np.ndarray:
    t = np.arange(round(seconds * fs)) / fs
    x = 0.25 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, x, fs, subtype="FLOAT")
    return x.astype(np.float32).astype(np.float64)  # what a FLOAT file holds


async def _collect(source: FileSource, limit: int | None = None) -> list[np.ndarray]:
    blocks = []
    async for block in source.blocks():
        blocks.append(block)
        if limit is not None and len(blocks) >= limit:
            break
    return blocks


def test_as_fast_as_possible_delivers_every_sample(tmp_path: Path) -> None:
    x = _wav(tmp_path / "a.wav", 2.05)
    source = FileSource(tmp_path / "a.wav", speed=0, block_s=0.1)
    blocks = asyncio.run(_collect(source))
    np.testing.assert_array_equal(np.concatenate(blocks), x)
    assert source.stats.samples == x.size
    assert source.stats.blocks == len(blocks) == 21
    assert source.sample_rate_hz == 8000


def test_real_time_pace_is_kept(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", 0.5)
    source = FileSource(tmp_path / "a.wav", speed=1.0, block_s=0.1)
    started = time.monotonic()
    asyncio.run(_collect(source))
    assert 0.45 <= time.monotonic() - started < 1.5


def test_loop_starts_again(tmp_path: Path) -> None:
    x = _wav(tmp_path / "a.wav", 0.3)
    source = FileSource(tmp_path / "a.wav", speed=0, loop=True, block_s=0.1)
    blocks = asyncio.run(_collect(source, limit=9))
    np.testing.assert_array_equal(np.concatenate(blocks), np.tile(x, 3))


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"", "empty"), (b"not audio at all", "not an audio file")],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "x.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        FileSource(path)


def test_bad_options(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav", 0.2)
    with pytest.raises(SourceError, match="speed"):
        FileSource(tmp_path / "a.wav", speed=-1)
    with pytest.raises(SourceError, match="channel"):
        FileSource(tmp_path / "a.wav", channel=1)
