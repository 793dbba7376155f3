"""Reading recordings (WAV, FLAC, OGG and whatever else libsndfile reads) for the meter.

Every failure becomes an ``AudioInputError`` whose message is one line a user can act on; the
caller never sees a libsndfile exception. A WAV file whose header declares more audio than the
file holds (a copy cut short, a recorder that lost power) is measured as far as it goes and
reported as truncated.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from noisefleet_edge.errors import NoisefleetEdgeError

BLOCK_FRAMES = 1 << 16

# Integer formats clip at their largest code; the positive full scale is one step below 1.0.
_INTEGER_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


class AudioInputError(NoisefleetEdgeError):
    """A recording cannot be measured; the message says why in one line."""


@dataclass(frozen=True)
class Recording:
    """What a recording holds, checked before any sample is read."""

    path: Path
    sample_rate_hz: int
    channels: int
    frames: int
    subtype: str
    clip_level: float
    truncated_note: str | None = None

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate_hz


def _clip_level(subtype: str) -> float:
    bits = _INTEGER_BITS.get(subtype)
    if bits is None:
        return 1.0
    return float((2 ** (bits - 1) - 1) / 2 ** (bits - 1))


def _declared_wav_data_bytes(path: Path) -> int | None:
    """The data chunk size a RIFF/WAVE header declares, or None for other files."""
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                return None
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"data":
                    return int(size)
                handle.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None


def open_recording(path: str | os.PathLike[str]) -> Recording:
    """Check that ``path`` is a readable, non-empty recording and describe it."""
    file_path = Path(path)
    if not file_path.exists():
        raise AudioInputError(f"{file_path}: no such file")
    if file_path.is_dir():
        raise AudioInputError(f"{file_path}: is a directory, not a recording")
    if file_path.stat().st_size == 0:
        raise AudioInputError(f"{file_path}: the file is empty")
    try:
        info = sf.info(str(file_path))
    except (sf.SoundFileError, RuntimeError, OSError) as error:
        reason = str(error).split(":")[-1].strip() or "unreadable"
        raise AudioInputError(
            f"{file_path}: not an audio file this tool can read ({reason})"
        ) from error
    if info.frames <= 0:
        raise AudioInputError(f"{file_path}: the recording holds no audio samples")
    if info.samplerate <= 0:
        raise AudioInputError(f"{file_path}: the header gives no valid sample rate")
    note = None
    declared = _declared_wav_data_bytes(file_path)
    frame_bytes = _frame_bytes(info.subtype, info.channels)
    if declared is not None and frame_bytes and declared // frame_bytes > info.frames:
        declared_s = declared // frame_bytes / info.samplerate
        note = (
            f"{file_path}: the file is truncated: its header declares {declared_s:.2f} s, it holds "
            f"{info.frames / info.samplerate:.2f} s; measuring what is there"
        )
    return Recording(
        path=file_path,
        sample_rate_hz=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        subtype=str(info.subtype),
        clip_level=_clip_level(str(info.subtype)),
        truncated_note=note,
    )


def _frame_bytes(subtype: str, channels: int) -> int | None:
    sizes = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4}
    sizes["DOUBLE"] = 8
    size = sizes.get(subtype)
    return None if size is None else size * channels


def check_channel(recording: Recording, channel: int) -> None:
    if not 0 <= channel < recording.channels:
        raise AudioInputError(
            f"{recording.path}: has {recording.channels} channel(s); channel {channel} does not "
            f"exist (use --channel 0..{recording.channels - 1})"
        )


def read_blocks(
    recording: Recording, channel: int = 0, block_frames: int = BLOCK_FRAMES
) -> Iterator[npt.NDArray[np.float64]]:
    """Yield one channel of the recording in blocks of float64 samples in [-1, 1]."""
    check_channel(recording, channel)
    try:
        with sf.SoundFile(str(recording.path)) as handle:
            for block in handle.blocks(blocksize=block_frames, dtype="float64", always_2d=True):
                yield np.ascontiguousarray(block[:, channel])
    except (sf.SoundFileError, RuntimeError, OSError) as error:
        raise AudioInputError(f"{recording.path}: reading failed part-way ({error})") from error


def read_channel(recording: Recording, channel: int = 0) -> npt.NDArray[np.float64]:
    """The whole channel at once (for short recordings such as calibrator tones)."""
    blocks = list(read_blocks(recording, channel))
    return np.concatenate(blocks) if blocks else np.empty(0, dtype=np.float64)
