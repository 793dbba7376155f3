"""A simulated sensor: a recording played back in real time, faster, or as fast as possible.

For demos, tests and benchmarks. The file is read in a worker thread (reading never blocks the
event loop), ``READ_AHEAD_BLOCKS`` blocks per hand-over (one thread hop per block cost more CPU
than reading it); each block is released when its wall-clock time has come
(``speed`` 1.0 is real time, 10.0 ten times faster, 0 as fast as the consumer takes them).
With ``loop`` the recording starts again at its end, forever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np

from noisefleet_edge.audio_files import AudioInputError, check_channel, open_recording, read_blocks
from noisefleet_edge.sources.base import FloatArray, SourceError, SourceStats

READ_AHEAD_BLOCKS = 10


class FileSource:
    """One channel of a recording, delivered as a live sensor would."""

    def __init__(
        self,
        path: Path,
        channel: int = 0,
        speed: float = 1.0,
        loop: bool = False,
        block_s: float = 0.1,
    ) -> None:
        if not (speed >= 0 and np.isfinite(speed)):
            raise SourceError(f"file source {path}: speed must be >= 0 (0: as fast as possible)")
        if not 0.001 <= block_s <= 10:
            raise SourceError(f"file source {path}: block_s must be within 0.001..10 s")
        try:
            self._recording = open_recording(path)
            check_channel(self._recording, channel)
        except AudioInputError as error:
            raise SourceError(str(error)) from None
        self._channel = channel
        self._speed = speed
        self._loop = loop
        self._block_frames = max(1, round(block_s * self._recording.sample_rate_hz))
        self._stats = SourceStats()

    @property
    def sample_rate_hz(self) -> int:
        return self._recording.sample_rate_hz

    @property
    def live(self) -> bool:
        """False: a file can wait, so a consumer that falls behind slows it down instead of
        dropping audio."""
        return False

    @property
    def stats(self) -> SourceStats:
        return self._stats

    def _passes(self) -> Iterator[Iterator[FloatArray]]:
        while True:
            yield read_blocks(
                self._recording, self._channel, self._block_frames * READ_AHEAD_BLOCKS
            )
            if not self._loop:
                return

    async def blocks(self) -> AsyncIterator[FloatArray]:
        started = time.monotonic()
        fs = self.sample_rate_hz
        for reader in self._passes():
            while True:
                try:
                    block = await asyncio.to_thread(next, reader, None)
                except AudioInputError as error:
                    self._stats.last_error = str(error)
                    raise SourceError(str(error)) from None
                if block is None:
                    break
                for first in range(0, block.size, self._block_frames):
                    piece = block[first : first + self._block_frames]
                    if self._speed > 0:
                        due = started + (self._stats.samples + piece.size) / fs / self._speed
                        delay = due - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    else:
                        await asyncio.sleep(0)  # let the other sensors and the link run
                    self._stats.blocks += 1
                    self._stats.samples += piece.size
                    yield piece
