"""A sounddevice (PortAudio) microphone as a sensor source, with recovery.

PortAudio calls back on its own thread; the callback only copies the block and hands it to the
event loop (``call_soon_threadsafe``), so measuring never runs on the audio thread.
When the device disappears (unplugged, driver reset) or stops delivering audio, the source
closes it, waits (exponential back-off up to ``max_retry_s``) and opens it again; the time
without audio is delivered as NaN samples, so the stream stays aligned with the wall clock and
the interval's coverage shows the gap. Overflows (blocks PortAudio had to discard) are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from noisefleet_edge.live import LiveInputError, _sounddevice
from noisefleet_edge.sources.base import FloatArray, SourceError, SourceStats

log = logging.getLogger(__name__)

SILENCE_TIMEOUT_S = 5.0
MAX_GAP_FILL_S = 3600.0


class MicrophoneSource:
    """One channel of a sounddevice input."""

    def __init__(
        self,
        device: str | int | None,
        sample_rate_hz: int,
        channel: int = 0,
        block_s: float = 0.1,
        max_retry_s: float = 60.0,
        name: str = "microphone",
    ) -> None:
        if sample_rate_hz < 8000:
            raise SourceError(f"{name}: sample_rate_hz must be at least 8000")
        if channel < 0:
            raise SourceError(f"{name}: channel must be >= 0")
        self._device = device
        self._fs = sample_rate_hz
        self._channel = channel
        self._block_frames = max(1, round(block_s * sample_rate_hz))
        self._max_retry_s = max_retry_s
        self._name = name
        self._stats = SourceStats()

    @property
    def sample_rate_hz(self) -> int:
        return self._fs

    @property
    def stats(self) -> SourceStats:
        return self._stats

    def _open(self, queue: asyncio.Queue[FloatArray | None]) -> Any:
        try:
            sd = _sounddevice()
        except LiveInputError as error:
            raise SourceError(str(error)) from None
        loop = asyncio.get_running_loop()
        channel = self._channel
        stats = self._stats

        def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            if status and status.input_overflow:
                stats.dropped_frames += 1
            block = np.asarray(indata[:, channel], dtype=np.float64).copy()
            loop.call_soon_threadsafe(queue.put_nowait, block)

        def finished() -> None:
            loop.call_soon_threadsafe(queue.put_nowait, None)

        try:
            stream = sd.InputStream(
                device=self._device,
                samplerate=self._fs,
                channels=channel + 1,
                dtype="float32",
                blocksize=self._block_frames,
                callback=callback,
                finished_callback=finished,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as error:
            raise SourceError(f"{self._name}: cannot open the input device: {error}") from None
        return stream

    async def blocks(self) -> AsyncIterator[FloatArray]:
        retry_s = 1.0
        lost_since: float | None = None
        while True:
            queue: asyncio.Queue[FloatArray | None] = asyncio.Queue()
            try:
                stream = self._open(queue)
            except SourceError as error:
                self._stats.last_error = str(error)
                if lost_since is None:
                    raise  # the first open must work: the configuration is probably wrong
                log.warning("%s; retrying in %.0f s", error, retry_s)
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, self._max_retry_s)
                continue
            try:
                while True:
                    silent_s = 0.0
                    try:
                        block = await asyncio.wait_for(queue.get(), SILENCE_TIMEOUT_S)
                    except TimeoutError:
                        block = None
                        silent_s = SILENCE_TIMEOUT_S
                        self._stats.last_error = (
                            f"{self._name}: no audio for {SILENCE_TIMEOUT_S:.0f} s; reopening"
                        )
                    if block is None:
                        if silent_s == 0.0:
                            self._stats.last_error = f"{self._name}: the input stream stopped"
                        log.warning("%s", self._stats.last_error)
                        # Audio stopped when the last block arrived (a timeout: 5 s ago).
                        lost_since = time.monotonic() - silent_s
                        break
                    if lost_since is not None:
                        gap = min(time.monotonic() - lost_since, MAX_GAP_FILL_S)
                        # The block just received is audio of the last block_s: not lost.
                        missing = max(0, round(gap * self._fs) - block.size)
                        lost_since = None
                        retry_s = 1.0
                        self._stats.reconnects += 1
                        if missing > 0:
                            self._stats.lost_samples += missing
                            self._stats.samples += missing
                            yield np.full(missing, np.nan)
                    self._stats.blocks += 1
                    self._stats.samples += block.size
                    yield block
            finally:
                with contextlib.suppress(Exception):
                    stream.abort()
                    stream.close()
