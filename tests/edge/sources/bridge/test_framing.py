"""The frame format: round trips per sample format, every malformed case, stream resync."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_edge.sources.bridge.framing import (
    HEADER,
    HEADER_SIZE,
    MAGIC,
    MAX_PAYLOAD_BYTES,
    VERSION,
    CorruptFrameError,
    Frame,
    FrameError,
    SampleFormat,
    StreamDecoder,
    TruncatedFrameError,
    UnsupportedFrameError,
    decode_frame,
    encode_frame,
    encode_samples,
    pack_frame,
)

U32 = st.integers(0, 2**32 - 1)


def header(
    *,
    magic: bytes = MAGIC,
    version: int = VERSION,
    fmt: int = 1,
    channels: int = 1,
    mcu_id: int = 7,
    counter: int = 0,
    first: int = 0,
    rate: int = 48000,
    payload_bytes: int = 4,
) -> bytes:
    return HEADER.pack(
        magic, version, fmt, channels, 0, mcu_id, counter, first, rate, payload_bytes
    )


def good_frame() -> bytes:
    return encode_frame(
        np.array([0.5, -0.25]),
        mcu_id=7,
        first_sample=0,
        sample_rate_hz=48000,
        sample_format=SampleFormat.INT16,
    )


def test_header_is_32_bytes_and_little_endian() -> None:
    frame = encode_frame(
        [0.0],
        mcu_id=0x01020304,
        first_sample=0x0102030405060708,
        sample_rate_hz=48000,
        sample_format=SampleFormat.INT16,
        frame_counter=9,
    )
    assert HEADER_SIZE == 32
    assert frame[:4] == b"NFMB"
    assert frame[4:8] == bytes([1, 1, 1, 0])
    assert frame[8:12] == bytes([4, 3, 2, 1])
    assert frame[12:16] == bytes([9, 0, 0, 0])
    assert frame[16:24] == bytes([8, 7, 6, 5, 4, 3, 2, 1])
    assert struct.unpack("<II", frame[24:32]) == (48000, 2)
    assert struct.unpack("<I", frame[-4:])[0] == zlib.crc32(frame[:-4])
    assert len(frame) == 32 + 2 + 4


@settings(max_examples=60, deadline=None)
@given(
    ints=st.lists(st.integers(-32768, 32767), min_size=1, max_size=300),
    mcu_id=U32,
    counter=U32,
    first=st.integers(0, 2**64 - 1),
    rate=st.integers(1, 2**32 - 1),
)
def test_int16_round_trip_is_exact(
    ints: list[int], mcu_id: int, counter: int, first: int, rate: int
) -> None:
    samples = np.array(ints, dtype=np.float64) / 32768
    frame = decode_frame(
        encode_frame(
            samples,
            mcu_id=mcu_id,
            first_sample=first,
            sample_rate_hz=rate,
            sample_format=SampleFormat.INT16,
            frame_counter=counter,
        )
    )
    assert (frame.mcu_id, frame.frame_counter, frame.first_sample, frame.sample_rate_hz) == (
        mcu_id,
        counter,
        first,
        rate,
    )
    assert frame.sample_format is SampleFormat.INT16
    assert frame.samples.dtype == np.float64
    np.testing.assert_array_equal(frame.samples, samples)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-(2**23), 2**23 - 1), min_size=1, max_size=300))
def test_int32_left_justified_24_bit_round_trip_is_exact(ints: list[int]) -> None:
    samples = np.array(ints, dtype=np.float64) / 2**23
    payload = encode_samples(samples, SampleFormat.INT32)
    raw = np.frombuffer(payload, "<i4")
    np.testing.assert_array_equal(raw & 0xFF, 0)  # 24 bits in the top of 32, as I2S sends them
    np.testing.assert_array_equal(raw >> 8, ints)
    frame = decode_frame(
        encode_frame(
            samples,
            mcu_id=1,
            first_sample=0,
            sample_rate_hz=48000,
            sample_format=SampleFormat.INT32,
        )
    )
    np.testing.assert_array_equal(frame.samples, samples)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.floats(-4, 4, width=32, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=300,
    )
)
def test_float32_round_trip_is_exact(values: list[float]) -> None:
    samples = np.array(values, dtype=np.float64)
    frame = decode_frame(
        encode_frame(
            samples,
            mcu_id=1,
            first_sample=0,
            sample_rate_hz=16000,
            sample_format=SampleFormat.FLOAT32,
        )
    )
    np.testing.assert_array_equal(frame.samples, samples)


def test_int32_decodes_a_raw_i2s_word_at_full_scale_2_to_31() -> None:
    payload = np.array([2**31 - 1, -(2**31), 0x12345600], "<i4").tobytes()
    frame = decode_frame(pack_frame(header(fmt=2, payload_bytes=12), payload))
    np.testing.assert_array_equal(
        frame.samples, np.array([2**31 - 1, -(2**31), 0x12345600]) / 2**31
    )


def test_encoding_rounds_and_clips_to_the_integer_range() -> None:
    payload = encode_samples(
        np.array([1.0, -1.0, 2.0, 0.4 / 32768, 0.6 / 32768]), SampleFormat.INT16
    )
    assert np.frombuffer(payload, "<i2").tolist() == [32767, -32768, 32767, 0, 1]


@pytest.mark.parametrize(
    ("samples", "message"),
    [([np.nan], "finite"), ([], "at least one sample"), ([[0.1, 0.2]], "one-dimensional")],
)
def test_encoding_refuses_what_no_frame_can_carry(samples: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_frame(
            samples, mcu_id=1, first_sample=0, sample_rate_hz=8000, sample_format=SampleFormat.INT16
        )


@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (b"NFMB\x01", TruncatedFrameError, "shorter than the 36-byte minimum"),
        (good_frame()[:-1], TruncatedFrameError, "announces a 40-byte frame"),
        (b"XXXX" + good_frame()[4:], CorruptFrameError, "bad magic b'XXXX'"),
        (pack_frame(header(version=2), bytes(4)), UnsupportedFrameError, "protocol version 2"),
        (good_frame()[:-1] + b"\x00", CorruptFrameError, "CRC mismatch"),
        (good_frame()[:33] + b"\x55" + good_frame()[34:], CorruptFrameError, "CRC mismatch"),
        (good_frame() + b"\x00", CorruptFrameError, "bad length"),
        (
            pack_frame(header(payload_bytes=3), bytes(3)),
            CorruptFrameError,
            "multiple of the 2-byte",
        ),
        (pack_frame(header(payload_bytes=0), b""), CorruptFrameError, "positive multiple"),
        (
            pack_frame(header(payload_bytes=MAX_PAYLOAD_BYTES + 2), b""),
            CorruptFrameError,
            "exceeds the 65000-byte maximum",
        ),
        (pack_frame(header(channels=2), bytes(4)), UnsupportedFrameError, "2 channels: only mono"),
        (
            pack_frame(header(fmt=9), bytes(4)),
            UnsupportedFrameError,
            "unknown sample format code 9",
        ),
        (pack_frame(header(rate=0), bytes(4)), CorruptFrameError, "sample rate 0 Hz"),
        (
            pack_frame(header(fmt=3), np.array([np.nan], "<f4").tobytes()),
            CorruptFrameError,
            "NaN or infinite",
        ),
    ],
    ids=[
        "truncated-header",
        "truncated-payload",
        "bad-magic",
        "bad-version",
        "bad-crc",
        "flipped-payload-bit",
        "trailing-bytes",
        "odd-length",
        "empty-payload",
        "huge-length",
        "stereo",
        "unknown-format",
        "zero-rate",
        "float-nan",
    ],
)
def test_malformed_frames_are_refused_with_a_specific_reason(
    data: bytes, error: type[FrameError], reason: str
) -> None:
    with pytest.raises(error) as caught:
        decode_frame(data)
    assert reason in caught.value.reason
    assert "\n" not in caught.value.reason


def test_sample_format_labels() -> None:
    assert [f.label for f in SampleFormat] == ["int16", "int32", "float32"]
    assert SampleFormat.from_label("int32") is SampleFormat.INT32
    with pytest.raises(ValueError, match="unknown sample format 'pcm8'"):
        SampleFormat.from_label("pcm8")


def _frames(n: int) -> list[bytes]:
    return [
        encode_frame(
            np.full(4, i / 100),
            mcu_id=3,
            first_sample=4 * i,
            sample_rate_hz=8000,
            sample_format=SampleFormat.INT16,
            frame_counter=i,
        )
        for i in range(n)
    ]


def _frame_starts(items: list[Frame | FrameError]) -> list[int]:
    return [item.first_sample for item in items if isinstance(item, Frame)]


def test_stream_decoder_reassembles_frames_fed_one_byte_at_a_time() -> None:
    decoder = StreamDecoder()
    found: list[Frame | FrameError] = []
    for byte in b"".join(_frames(5)):
        found += decoder.feed(bytes([byte]))
    assert _frame_starts(found) == [0, 4, 8, 12, 16]
    assert decoder.garbage_bytes == 0


def test_stream_decoder_resynchronises_after_garbage_and_broken_frames() -> None:
    frames = _frames(5)
    broken = frames[2][:-1] + bytes([frames[2][-1] ^ 1])
    stereo = pack_frame(header(channels=2), bytes(4))
    fake_magic = MAGIC + b"\x01" + bytes(23) + struct.pack("<I", 10**6)  # absurd length
    stream = (
        b"\x00garbage"
        + frames[0]
        + b"NFM"
        + frames[1]
        + broken
        + stereo
        + fake_magic
        + frames[3]
        + frames[4]
    )
    decoder = StreamDecoder()
    found = decoder.feed(stream[:50]) + decoder.feed(stream[50:])
    assert _frame_starts(found) == [0, 4, 12, 16]
    reasons = [item.reason for item in found if isinstance(item, FrameError)]
    assert reasons[0] == "skipped 8 bytes of garbage before a frame magic"
    assert reasons[1] == "skipped 3 bytes of garbage before a frame magic"
    assert "CRC mismatch" in reasons[2]
    assert "skipped" in reasons[3]  # the rest of the broken frame
    assert reasons[4] == "2 channels: only mono frames are accepted"
    assert "exceeds the 65000-byte maximum" in reasons[5]
    assert "skipped" in reasons[6]
    assert len(reasons) == 7


def test_stream_decoder_reports_a_long_run_without_any_magic() -> None:
    decoder = StreamDecoder()
    found = decoder.feed(bytes(70_000))
    assert [type(f) for f in found] == [CorruptFrameError]
    assert decoder.garbage_bytes == 70_000 - 3
    assert _frame_starts(decoder.feed(_frames(1)[0])) == [0]


def test_the_documented_test_vector_is_what_the_encoder_produces() -> None:
    doc = (Path(__file__).parents[4] / "docs" / "mcu-bridge.md").read_text(encoding="utf-8")
    block = doc.split("**Test vector.**", 1)[1].split("```", 2)[1]
    documented = bytes.fromhex(block)
    assert documented == encode_frame(
        [0.5, -0.25],
        mcu_id=7,
        first_sample=480,
        sample_rate_hz=48000,
        sample_format=SampleFormat.INT16,
        frame_counter=1,
    )
    frame = decode_frame(documented)
    assert (frame.mcu_id, frame.frame_counter, frame.first_sample) == (7, 1, 480)
    assert "`0xCBF43926`" in doc
    assert zlib.crc32(b"123456789") == 0xCBF43926
