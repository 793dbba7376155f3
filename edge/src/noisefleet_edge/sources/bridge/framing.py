"""The MCU bridge frame: one block of mono PCM from one microcontroller (pure, no I/O).

Layout (little-endian; docs/mcu-bridge.md is the reference for firmware writers)::

    offset  size  field
    0       4     magic b"NFMB"
    4       1     protocol version (1)
    5       1     sample format (1 int16, 2 int32 left-justified 24-bit, 3 float32)
    6       1     channels (1; others are refused)
    7       1     flags (0; reserved, ignored by this version)
    8       4     MCU id (u32)
    12      4     frame counter (u32, +1 per frame, wraps)
    16      8     index of the frame's first sample since the MCU started streaming (u64)
    24      4     sample rate in Hz (u32)
    28      4     payload length in bytes (u32)
    32      n     payload: n / width samples
    32+n    4     CRC-32 (IEEE 802.3, as zlib.crc32) of bytes [0, 32+n)

``decode_frame`` checks one complete frame (a UDP datagram); ``StreamDecoder`` cuts frames out of a
byte stream (TCP, serial) and resynchronises on the magic after garbage.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from noisefleet_edge.errors import NoisefleetEdgeError

FloatArray = npt.NDArray[np.float64]

MAGIC = b"NFMB"
VERSION = 1
HEADER = struct.Struct("<4sBBBBIIQII")
HEADER_SIZE = HEADER.size
CRC_SIZE = 4
MIN_FRAME_SIZE = HEADER_SIZE + CRC_SIZE
MAX_PAYLOAD_BYTES = 65_000
"""A whole frame fits one UDP datagram (65,507 bytes) with room to spare."""
_U32 = 2**32
_U64 = 2**64
_MAX_UNREPORTED_GARBAGE = 65_536


class FrameError(NoisefleetEdgeError):
    """A frame cannot be used; ``reason`` is one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TruncatedFrameError(FrameError):
    """Fewer bytes than the header says the frame has."""


class CorruptFrameError(FrameError):
    """The bytes are not a valid frame: bad magic, bad length, bad CRC, garbage in a stream."""


class UnsupportedFrameError(FrameError):
    """A valid frame this gateway does not accept: another protocol version, format or layout."""


class SampleFormat(enum.Enum):
    """The sample encodings a frame may carry; the value is the header code."""

    INT16 = 1
    INT32 = 2
    """24-bit audio left-justified in 32 bits (I2S MEMS microphones); full scale 2**31."""
    FLOAT32 = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def width(self) -> int:
        return int(_FORMAT_DTYPES[self].itemsize)

    @classmethod
    def from_label(cls, label: str) -> SampleFormat:
        for member in cls:
            if member.label == label:
                return member
        names = ", ".join(m.label for m in cls)
        raise ValueError(f"unknown sample format '{label}': use one of {names}")


_FORMAT_DTYPES: dict[SampleFormat, np.dtype[np.generic]] = {
    SampleFormat.INT16: np.dtype("<i2"),
    SampleFormat.INT32: np.dtype("<i4"),
    SampleFormat.FLOAT32: np.dtype("<f4"),
}
_FORMAT_SCALES = {
    SampleFormat.INT16: 32768.0,
    SampleFormat.INT32: 2.0**31,
    SampleFormat.FLOAT32: 1.0,
}
SAMPLE_FORMAT_LABELS = tuple(m.label for m in SampleFormat)


@dataclass(frozen=True, eq=False, slots=True)
class Frame:
    """A decoded frame; ``samples`` are float64 at full scale 1.0."""

    mcu_id: int
    frame_counter: int
    first_sample: int
    sample_rate_hz: int
    sample_format: SampleFormat
    samples: FloatArray


def encode_samples(samples: npt.ArrayLike, sample_format: SampleFormat) -> bytes:
    """The payload for ``samples`` (full scale 1.0), rounded and clipped to the format."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"samples must be one-dimensional (mono), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("samples must be finite (no NaN or infinity)")
    if sample_format is SampleFormat.INT16:
        return np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2").tobytes()
    if sample_format is SampleFormat.INT32:
        # 24 significant bits, left-justified: the low byte is zero as an I2S microphone sends it.
        top = np.clip(np.round(x * 2.0**23), -(2**23), 2**23 - 1).astype("<i4")
        return (top << 8).astype("<i4").tobytes()
    return x.astype("<f4").tobytes()


def encode_frame(
    samples: npt.ArrayLike,
    *,
    mcu_id: int,
    first_sample: int,
    sample_rate_hz: int,
    sample_format: SampleFormat,
    frame_counter: int = 0,
) -> bytes:
    """One complete frame (header, payload, CRC) for mono ``samples``."""
    payload = encode_samples(samples, sample_format)
    if not payload:
        raise ValueError("a frame needs at least one sample")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES} bytes")
    if not 0 <= mcu_id < _U32:
        raise ValueError(f"MCU id {mcu_id} is not a u32")
    if not 0 <= first_sample < _U64:
        raise ValueError(f"first sample {first_sample} is not a u64")
    if not 0 < sample_rate_hz < _U32:
        raise ValueError(f"sample rate {sample_rate_hz} Hz is not a positive u32")
    header = HEADER.pack(
        MAGIC,
        VERSION,
        sample_format.value,
        1,
        0,
        mcu_id,
        frame_counter % _U32,
        first_sample,
        sample_rate_hz,
        len(payload),
    )
    return pack_frame(header, payload)


def pack_frame(header: bytes, payload: bytes) -> bytes:
    """Header and payload followed by their CRC-32 (no checks: tests build bad frames with it)."""
    body = header + payload
    return body + struct.pack("<I", zlib.crc32(body))


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """The frame in ``data``, which must be exactly one frame; ``FrameError`` says what is wrong."""
    size = len(data)
    if size < MIN_FRAME_SIZE:
        raise TruncatedFrameError(
            f"{size} bytes is shorter than the {MIN_FRAME_SIZE}-byte minimum frame"
        )
    magic, version, format_code, channels, _flags, mcu_id, counter, first, rate, payload_bytes = (
        HEADER.unpack_from(data)
    )
    if magic != MAGIC:
        raise CorruptFrameError(f"bad magic {bytes(magic)!r} (expected {MAGIC!r})")
    _check_prefix(version, payload_bytes)
    expected = HEADER_SIZE + payload_bytes + CRC_SIZE
    if size < expected:
        raise TruncatedFrameError(f"{size} bytes but the header announces a {expected}-byte frame")
    if size > expected:
        raise CorruptFrameError(
            f"{size} bytes but the header announces a {expected}-byte frame (bad length)"
        )
    body_end = HEADER_SIZE + payload_bytes
    (sent_crc,) = struct.unpack_from("<I", data, body_end)
    actual_crc = zlib.crc32(memoryview(data)[:body_end])
    if sent_crc != actual_crc:
        raise CorruptFrameError(
            f"CRC mismatch (frame says {sent_crc:#010x}, data gives {actual_crc:#010x})"
        )
    try:
        sample_format = SampleFormat(format_code)
    except ValueError:
        codes = ", ".join(f"{m.value} {m.label}" for m in SampleFormat)
        raise UnsupportedFrameError(f"unknown sample format code {format_code} ({codes})") from None
    if channels != 1:
        raise UnsupportedFrameError(f"{channels} channels: only mono frames are accepted")
    width = sample_format.width
    if payload_bytes == 0 or payload_bytes % width:
        raise CorruptFrameError(
            f"payload length {payload_bytes} is not a positive multiple of the "
            f"{width}-byte {sample_format.label} sample (bad length)"
        )
    if rate == 0:
        raise CorruptFrameError("sample rate 0 Hz")
    raw = np.frombuffer(
        data, dtype=_FORMAT_DTYPES[sample_format], count=payload_bytes // width, offset=HEADER_SIZE
    )
    samples = raw.astype(np.float64)
    if sample_format is SampleFormat.FLOAT32:
        if not np.isfinite(samples).all():
            raise CorruptFrameError("float32 payload holds NaN or infinite samples")
    else:
        samples /= _FORMAT_SCALES[sample_format]
    return Frame(mcu_id, counter, first, rate, sample_format, samples)


def _check_prefix(version: int, payload_bytes: int) -> None:
    """What must hold before the rest of the frame can even be located."""
    if version != VERSION:
        raise UnsupportedFrameError(
            f"protocol version {version} is not supported (this gateway speaks version {VERSION})"
        )
    if payload_bytes > MAX_PAYLOAD_BYTES:
        raise CorruptFrameError(
            f"payload length {payload_bytes} exceeds the {MAX_PAYLOAD_BYTES}-byte maximum"
        )


class StreamDecoder:
    """Cuts frames out of a byte stream, skipping garbage up to the next magic.

    ``feed`` returns, in stream order, the frames found and a ``FrameError`` for each rejected
    frame or run of garbage. A frame whose CRC fails may be garbage that happens to contain the
    magic, so the search restarts one byte after that magic; a frame with a good CRC but an
    unsupported format is skipped whole.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._skipped = 0
        self.garbage_bytes = 0
        """Bytes skipped while looking for a frame, in total."""

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        self._buffer += data
        found: list[Frame | FrameError] = []
        buffer = self._buffer
        while True:
            start = buffer.find(MAGIC)
            if start < 0:
                # Keep a tail that may be the start of a magic split across reads.
                self._skip(max(0, len(buffer) - (len(MAGIC) - 1)))
                if self._skipped >= _MAX_UNREPORTED_GARBAGE:
                    found.append(self._garbage_error())
                break
            if start:
                self._skip(start)
            if len(buffer) < HEADER_SIZE:
                break
            _magic, version, *_rest, payload_bytes = HEADER.unpack_from(buffer)
            try:
                _check_prefix(version, payload_bytes)
            except FrameError as error:
                # Another version's layout is unknown: look for the next magic instead.
                self._report_garbage(found)
                found.append(error)
                self._drop_magic()
                continue
            size = HEADER_SIZE + payload_bytes + CRC_SIZE
            if len(buffer) < size:
                break
            self._report_garbage(found)
            try:
                found.append(decode_frame(bytes(buffer[:size])))
            except UnsupportedFrameError as error:
                found.append(error)
                del buffer[:size]
            except FrameError as error:
                found.append(error)
                self._drop_magic()
            else:
                del buffer[:size]
        return found

    def _skip(self, count: int) -> None:
        if count:
            del self._buffer[:count]
            self._skipped += count
            self.garbage_bytes += count

    def _drop_magic(self) -> None:
        """Step past a rejected frame's magic; it is reported, what follows is garbage."""
        del self._buffer[:1]
        self.garbage_bytes += 1

    def _report_garbage(self, found: list[Frame | FrameError]) -> None:
        if self._skipped > 0:
            found.append(self._garbage_error())

    def _garbage_error(self) -> FrameError:
        error = CorruptFrameError(f"skipped {self._skipped} bytes of garbage before a frame magic")
        self._skipped = 0
        return error
