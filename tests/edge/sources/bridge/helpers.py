"""Ports, frames and block collection for the bridge tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from noisefleet_edge.sources.bridge.framing import SampleFormat, encode_frame
from noisefleet_edge.sources.bridge.hub import running_registry

RATE = 48_000
FRAME = 480


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def send_udp(port: int, *frames: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for frame in frames:
            sender.sendto(frame, ("127.0.0.1", port))


def int16_signal(count: int, seed: int = 0) -> np.ndarray:
    """Random audio exactly representable as int16 (what a PCM_16 WAV reads back as)."""
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, count).astype(np.float64) / 32768.0


def frame_bytes(
    samples: np.ndarray,
    index: int,
    *,
    mcu_id: int = 7,
    rate: int = RATE,
    sample_format: SampleFormat = SampleFormat.INT16,
    base: int = 0,
) -> bytes:
    """Frame ``index`` (counter and first sample from it, after ``base``) of ``samples`` cut in
    FRAME pieces."""
    return encode_frame(
        samples[index * FRAME : (index + 1) * FRAME],
        mcu_id=mcu_id,
        first_sample=base + index * FRAME,
        sample_rate_hz=rate,
        sample_format=sample_format,
        frame_counter=index,
    )


def expected_with_gaps(
    samples: np.ndarray, lost_frames: set[int], frame: int = FRAME
) -> np.ndarray:
    expected = samples.copy()
    for index in lost_frames:
        expected[index * frame : (index + 1) * frame] = np.nan
    return expected


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def hubs_open(count: int = 1) -> None:
    registry = running_registry()
    await until(lambda: len(registry) == count)


class Collector:
    """Runs ``source.blocks()`` in a task and gathers what it yields."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.blocks: list[np.ndarray] = []
        self._task: asyncio.Task[None] | None = None
        self._gen: AsyncIterator[np.ndarray] | None = None

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async for block in self.source.blocks():
            self.blocks.append(block)

    @property
    def count(self) -> int:
        return sum(len(b) for b in self.blocks)

    async def wait_for(self, samples: int, timeout: float = 5.0) -> np.ndarray:
        await until(
            lambda: self.count >= samples or (self._task is not None and self._task.done()), timeout
        )
        assert self._task is not None
        if self._task.done():
            self._task.result()  # raise what ended it
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0)
