"""The reference MCU emulator: impairments, WAV over UDP/TCP/serial end to end, bad input."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import tty
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_edge.sources.bridge import open_bridge_source
from noisefleet_edge.sources.bridge.emulator import Impairments, SendReport, impair, main
from noisefleet_edge.sources.bridge.framing import Frame, StreamDecoder

from .helpers import RATE, Collector, expected_with_gaps, free_port, hubs_open, int16_signal

FRAME_MS = 10
FRAME = RATE * FRAME_MS // 1000


def _numbered(count: int) -> list[tuple[int, int, bytes]]:
    return [(n, 1, bytes([n]) * 40) for n in range(1, count + 1)]


def test_impairments_drop_corrupt_and_swap_frames_by_number() -> None:
    report = SendReport()
    sent = list(
        impair(_numbered(10), Impairments(drop_every=4, swap_every=3, corrupt_every=5), report)
    )
    assert [slot for slot, _ in sent] == [1, 2, 5, 3, 7, 6, 10, 9]
    # Frame 3 waits for the next frame kept (4 is dropped), 6 for 7, 9 for 10.
    corrupted = dict(sent)[5]
    assert corrupted != bytes([5]) * 40
    assert len(corrupted) == 40
    assert (report.dropped, report.swapped, report.corrupted) == (2, 3, 2)


def test_random_loss_is_reproducible_with_a_seed() -> None:
    def lost(seed: int) -> list[int]:
        sent = impair(_numbered(200), Impairments(loss=0.1, seed=seed), SendReport())
        return sorted(set(range(1, 201)) - {slot for slot, _ in sent})

    assert lost(3) == lost(3)
    assert lost(3) != lost(4)
    assert 5 <= len(lost(3)) <= 40


def _wav(path: Path, samples: np.ndarray, subtype: str) -> Path:
    sf.write(str(path), samples, RATE, subtype=subtype)
    return path


def test_udp_loopback_delivers_the_wav_exactly_with_nan_for_lost_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(5)
    signal = rng.integers(-(2**23), 2**23, 50 * FRAME) / 2**23  # exact in 24 bits
    wav = _wav(tmp_path / "street.wav", signal, "PCM_24")
    port = free_port()
    source = open_bridge_source("udp", f"127.0.0.1:{port}", 42, RATE, "int32")
    argv = [
        str(wav),
        "--udp",
        f"127.0.0.1:{port}",
        "--mcu-id",
        "42",
        "--format",
        "int32",
        "--speed",
        "20",
        "--drop-every",
        "7",
        "--swap-every",
        "5",
        "--corrupt-every",
        "11",
    ]

    async def scenario() -> tuple[np.ndarray, int]:
        async with Collector(source) as got:
            await hubs_open()
            code = await asyncio.to_thread(main, argv)
            return await got.wait_for(len(signal)), code

    out, code = asyncio.run(scenario())
    assert code == 0
    assert "sent 43 frames" in capsys.readouterr().out
    dropped = {n - 1 for n in range(1, 51) if n % 7 == 0}
    corrupted = {n - 1 for n in range(1, 51) if n % 11 == 0}
    np.testing.assert_array_equal(out, expected_with_gaps(signal, dropped | corrupted, FRAME))
    stats = source.stats
    assert stats.rejected_frames == len(corrupted)
    assert stats.dropped_frames == len(dropped | corrupted)
    assert stats.lost_samples == len(dropped | corrupted) * FRAME
    assert stats.reordered_frames >= 6  # swaps whose partner was not dropped
    assert stats.late_frames == stats.duplicate_frames == 0


def test_tcp_loopback_at_full_speed_with_looping_sample_indices(tmp_path: Path) -> None:
    signal = int16_signal(10 * FRAME + 123, seed=9)  # a short last frame
    wav = _wav(tmp_path / "calibrator.wav", signal, "PCM_16")
    port = free_port(socket.SOCK_STREAM)
    source = open_bridge_source("tcp", f"127.0.0.1:{port}", 1, RATE, "int16")

    async def scenario() -> np.ndarray:
        async with Collector(source) as got:
            await hubs_open()
            code = await asyncio.to_thread(
                main, [str(wav), "--tcp", f"127.0.0.1:{port}", "--fast", "--mcu-id", "1"]
            )
            assert code == 0
            return await got.wait_for(len(signal))

    np.testing.assert_array_equal(asyncio.run(scenario()), signal)
    assert source.stats.lost_samples == source.stats.rejected_frames == 0


def test_serial_emulator_writes_raw_frames_to_a_tty(tmp_path: Path) -> None:
    signal = np.round(int16_signal(5 * FRAME, seed=4) * 4096) / 4096
    wav = _wav(tmp_path / "float.wav", signal, "FLOAT")
    master, slave = os.openpty()
    tty.setraw(master)
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO once the emulator closed the tty
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        code = main([str(wav), "--serial", os.ttyname(slave), "--format", "float32", "--fast"])
    finally:
        os.close(slave)
        reader.join(5)
        os.close(master)
    assert code == 0
    frames = [f for f in StreamDecoder().feed(bytes(received)) if isinstance(f, Frame)]
    assert [f.first_sample for f in frames] == [i * FRAME for i in range(5)]
    np.testing.assert_array_equal(np.concatenate([f.samples for f in frames]), signal)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.wav", "--udp", "127.0.0.1:9"], "missing.wav: no such file"),
        (
            ["corrupt.wav", "--udp", "127.0.0.1:9"],
            "corrupt.wav: not an audio file this tool can read",
        ),
        (["good.wav", "--tcp", "127.0.0.1:{closed}"], "cannot connect to tcp 127.0.0.1:"),
        (["good.wav", "--udp", "nowhere"], "udp address 'nowhere' is not host:port"),
        (["good.wav", "--serial", "/dev/no-such-uart"], "serial device '/dev/no-such-uart'"),
        (["good.wav", "--udp", "127.0.0.1:9", "--frame-ms", "0"], "--frame-ms 0.0 must be"),
        (["good.wav", "--udp", "127.0.0.1:9", "--frame-ms", "900"], "the maximum is 65000"),
        (["good.wav", "--udp", "127.0.0.1:9", "--loss", "1.5"], "--loss 1.5 must be in"),
        (
            ["good.wav", "--udp", "127.0.0.1:9", "--channel", "2"],
            "has 1 channel(s); channel 2 does not exist",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    _wav(tmp_path / "good.wav", int16_signal(FRAME), "PCM_16")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    closed = free_port(socket.SOCK_STREAM)
    argv = [a.format(closed=closed) for a in args]
    argv[0] = str(tmp_path / argv[0])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("noisefleet-mcu-emulator: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "noisefleet_edge.sources.bridge.emulator",
            str(tmp_path / "x.wav"),
            "--udp",
            "127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("noisefleet-mcu-emulator: error: ")
    assert "x.wav: no such file" in result.stderr
    assert "Traceback" not in result.stderr
