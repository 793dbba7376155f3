"""Live capture from a sounddevice microphone, adapted to blocks for the meter.

PortAudio runs its callback on its own thread; the callback only copies the block into a queue.
The caller's loop takes blocks from the queue, so the meter's work never happens on the audio
thread and an overflow is counted instead of silently lost.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from noisefleet_edge.errors import NoisefleetEdgeError

QUEUE_TIMEOUT_S = 5.0


class LiveInputError(NoisefleetEdgeError):
    """The microphone cannot be opened or stopped delivering audio; one-line message."""


@dataclass
class CaptureStats:
    overflows: int = 0
    blocks: int = 0
    notes: list[str] = field(default_factory=list)


def _sounddevice() -> Any:
    try:
        import sounddevice  # noqa: PLC0415  (PortAudio is loaded only when a live meter runs)
    except OSError as error:
        raise LiveInputError(
            "the PortAudio library is missing: install it with 'apt-get install libportaudio2'"
        ) from error
    return sounddevice


def list_input_devices() -> list[str]:
    """One line per input device: index, name, channels, default sample rate."""
    sd = _sounddevice()
    lines = []
    for index, device in enumerate(sd.query_devices()):
        if device["max_input_channels"] > 0:
            lines.append(
                f"{index}: {device['name']} ({device['max_input_channels']} ch, "
                f"{device['default_samplerate']:.0f} Hz)"
            )
    return lines


@contextlib.contextmanager
def microphone_blocks(
    device: str | int | None, sample_rate_hz: int, block_s: float, channel: int, stats: CaptureStats
) -> Iterator[Iterator[npt.NDArray[np.float64]]]:
    """Open the input device and yield an iterator of mono float64 blocks from ``channel``."""
    sd = _sounddevice()
    if not list_input_devices():
        raise LiveInputError(
            "no audio input device found: connect a microphone (see 'levels --list-devices')"
        )
    blocks: queue.Queue[npt.NDArray[np.float32]] = queue.Queue()

    def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
        if status and status.input_overflow:
            stats.overflows += 1
        blocks.put(indata[:, channel].copy())

    try:
        stream = sd.InputStream(
            device=device,
            samplerate=sample_rate_hz,
            channels=channel + 1,
            dtype="float32",
            blocksize=max(1, round(block_s * sample_rate_hz)),
            callback=callback,
        )
    except (sd.PortAudioError, ValueError) as error:
        raise LiveInputError(f"cannot open the input device: {error}") from error

    def iterate() -> Iterator[npt.NDArray[np.float64]]:
        while True:
            try:
                block = blocks.get(timeout=QUEUE_TIMEOUT_S)
            except queue.Empty:
                raise LiveInputError(
                    f"the input device delivered no audio for {QUEUE_TIMEOUT_S:.0f} s"
                ) from None
            stats.blocks += 1
            yield block.astype(np.float64)

    with stream:
        yield iterate()
