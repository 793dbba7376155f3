"""The reference firmware's framing (edge/firmware/nfmb, portable C) against the gateway's
receiver: built here with gcc, its frames decoded by ``framing.py`` with exact samples,
CRCs, frame counters and sample indices."""

from __future__ import annotations

import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from noisefleet_edge.sources.bridge.framing import (
    CorruptFrameError,
    Frame,
    SampleFormat,
    StreamDecoder,
    decode_frame,
)

FIRMWARE = Path(__file__).resolve().parents[3] / "edge" / "firmware"
DOC_TEST_VECTOR = bytes.fromhex(
    "4e464d42010101000700000001000000e00100000000000080bb000004000000004000e0df9cb436"
)


@pytest.fixture(scope="module")
def emitter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    assert gcc is not None, "gcc is missing: run scripts/setup.sh as root (APT_PACKAGES)"
    binary = tmp_path_factory.mktemp("firmware") / "nfmb_emit"
    subprocess.run(
        [
            gcc,
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Wconversion",
            "-pedantic",
            "-Werror",
            "-O2",
            "-I",
            str(FIRMWARE / "nfmb"),
            str(FIRMWARE / "nfmb" / "nfmb.c"),
            str(FIRMWARE / "test" / "nfmb_emit.c"),
            "-o",
            str(binary),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return binary


def _run(emitter: Path, *args: object) -> bytes:
    result = subprocess.run(
        [str(emitter), *map(str, args)], check=True, capture_output=True, timeout=60
    )
    return result.stdout


def _lcg(seed: int, total: int) -> np.ndarray:
    out = np.empty(total, dtype=np.uint32)
    state = seed
    for i in range(total):
        state = (state * 1664525 + 1013904223) % 2**32
        out[i] = state
    return out


def _decoded(sample_format: SampleFormat, raw: np.ndarray) -> np.ndarray:
    if sample_format is SampleFormat.INT16:
        return (raw >> 16).astype(np.uint16).view(np.int16) / 32768.0
    top24 = (raw & 0xFFFFFF00).view(np.int32)
    if sample_format is SampleFormat.INT32:
        return top24 / 2.0**31
    return (top24 // 256) / 2.0**23  # exact in float32, so exact after decoding


def test_crc_is_zlibs_and_the_documented_check_value(emitter: Path) -> None:
    assert _run(emitter, "crc", "123456789").decode().strip() == "cbf43926"
    text = "noisefleet MCU bridge"
    assert int(_run(emitter, "crc", text), 16) == zlib.crc32(text.encode())


def test_the_documented_test_vector(emitter: Path) -> None:
    frame_bytes = _run(emitter, "vector")
    assert frame_bytes == DOC_TEST_VECTOR
    frame = decode_frame(frame_bytes)
    assert (frame.mcu_id, frame.frame_counter, frame.first_sample) == (7, 1, 480)
    assert frame.sample_rate_hz == 48000
    np.testing.assert_array_equal(frame.samples, [0.5, -0.25])


@pytest.mark.parametrize("sample_format", list(SampleFormat), ids=lambda f: f.label)
def test_streamed_frames_decode_to_the_exact_samples(
    emitter: Path, sample_format: SampleFormat
) -> None:
    frames_count, per_frame, seed = 40, 160, 12345
    first_counter = 2**32 - 5  # the counter wraps within the stream
    skip_after, skip_samples = 17, 1000  # a DMA overrun: the index jumps, time stays right
    data = _run(
        emitter, "stream", sample_format.value, 7, 16000, frames_count, per_frame, seed,
        first_counter, skip_after, skip_samples,
    )  # fmt: skip
    decoder = StreamDecoder()
    # A byte stream (TCP, serial) arrives in arbitrary pieces.
    found = []
    for start in range(0, len(data), 997):
        found.extend(decoder.feed(data[start : start + 997]))
    frames = [f for f in found if isinstance(f, Frame)]
    assert len(frames) == len(found) == frames_count
    assert decoder.garbage_bytes == 0

    sizes = [per_frame + k % 3 for k in range(frames_count)]
    expected = _decoded(sample_format, _lcg(seed, sum(sizes)))
    position, next_sample = 0, 0
    for k, frame in enumerate(frames):
        assert frame.mcu_id == 7
        assert frame.sample_rate_hz == 16000
        assert frame.sample_format is sample_format
        assert frame.frame_counter == (first_counter + k) % 2**32
        assert frame.first_sample == next_sample
        np.testing.assert_array_equal(frame.samples, expected[position : position + sizes[k]])
        position += sizes[k]
        next_sample += sizes[k] + (skip_samples if k == skip_after else 0)


def test_a_corrupted_byte_fails_the_crc(emitter: Path) -> None:
    frame_bytes = bytearray(_run(emitter, "vector"))
    frame_bytes[33] ^= 0x01  # one bit of the payload
    with pytest.raises(CorruptFrameError):
        decode_frame(bytes(frame_bytes))
