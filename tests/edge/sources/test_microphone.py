"""The microphone source's recovery, with a scripted PortAudio: the device disappears, cannot
be opened for a while, comes back; the time without audio is delivered as NaN."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest

from noisefleet_edge.sources import microphone
from noisefleet_edge.sources.base import SourceError
from noisefleet_edge.sources.microphone import MicrophoneSource

FS = 8000
BLOCK = 80  # 10 ms


class PortAudioError(Exception):
    pass


class FakeSoundDevice:
    """Streams of ``blocks_per_stream`` blocks, then the device vanishes; ``refusals`` opens
    fail (device missing) before it can be opened again."""

    PortAudioError = PortAudioError

    def __init__(self, blocks_per_stream: int, refusals: int) -> None:
        self.blocks_per_stream = blocks_per_stream
        self.refusals_left = refusals
        self.opened = 0
        self.value = 0.0

    def InputStream(self, **kwargs: Any) -> Any:  # noqa: N802  (sounddevice's name)
        if self.opened > 0 and self.refusals_left > 0:
            self.refusals_left -= 1
            raise PortAudioError("Error opening InputStream: Device unavailable")
        self.opened += 1
        return FakeStream(self, kwargs["callback"], kwargs["finished_callback"])


class FakeStream:
    def __init__(self, device: FakeSoundDevice, callback: Any, finished: Any) -> None:
        self._device = device
        self._callback = callback
        self._finished = finished
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop = threading.Event()

    def _run(self) -> None:
        for _ in range(self._device.blocks_per_stream):
            if self._stop.is_set():
                return
            self._device.value += 1.0
            self._callback(
                np.full((BLOCK, 1), self._device.value, dtype=np.float32), BLOCK, None, None
            )
            time.sleep(0.01)
        self._finished()

    def start(self) -> None:
        self._thread.start()

    def abort(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()


async def _collect(source: MicrophoneSource, audio_samples: int) -> np.ndarray:
    """Blocks until ``audio_samples`` real (not NaN) samples have arrived."""
    got: list[np.ndarray] = []
    async for block in source.blocks():
        got.append(block)
        if sum(int(np.isfinite(b).sum()) for b in got) >= audio_samples:
            break
    return np.concatenate(got)


def test_a_vanished_device_is_reopened_and_the_gap_is_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSoundDevice(blocks_per_stream=20, refusals=1)
    monkeypatch.setattr(microphone, "_sounddevice", lambda: fake)
    source = MicrophoneSource(None, FS, block_s=BLOCK / FS, max_retry_s=1.0, name="mic")
    started = time.monotonic()
    x = asyncio.run(_collect(source, 30 * BLOCK))  # the first stream and half the second
    elapsed = time.monotonic() - started
    assert fake.opened == 2
    assert source.stats.reconnects == 1
    assert source.stats.last_error is not None
    gap = np.isnan(x)
    # The first stream's 20 blocks, then NaN for the time without a device, then audio again.
    assert not gap[: 20 * BLOCK].any()
    assert gap[20 * BLOCK]
    lost = int(gap.sum())
    assert lost == source.stats.lost_samples
    # The gap lasts about as long as the device was away (one refused open: ~1 s back-off).
    assert 0.8 * FS <= lost <= (elapsed + 0.2) * FS
    assert np.array_equal(x[~gap][: 21 * BLOCK : BLOCK], np.arange(1.0, 22.0))


def test_a_device_that_cannot_be_opened_at_start_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Missing(FakeSoundDevice):
        def InputStream(self, **kwargs: Any) -> Any:  # noqa: N802
            raise PortAudioError("Error querying device -1")

    monkeypatch.setattr(microphone, "_sounddevice", lambda: Missing(1, 0))
    source = MicrophoneSource("hw:7", FS, name="mic")
    with pytest.raises(SourceError, match="mic: cannot open the input device: Error querying"):
        asyncio.run(_collect(source, 1))
