"""The TCP hub: a stream of frames per connection, resync after garbage, reconnects."""

from __future__ import annotations

import asyncio
import socket

import numpy as np

from noisefleet_edge.sources.bridge import open_bridge_source

from .helpers import FRAME, RATE, Collector, frame_bytes, free_port, hubs_open, int16_signal


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


def test_garbage_on_tcp_is_skipped_and_reconnects_are_counted() -> None:
    port = free_port(socket.SOCK_STREAM)
    signal = int16_signal(12 * FRAME)
    source = open_bridge_source("tcp", f"127.0.0.1:{port}", 7, RATE, "int16")

    async def scenario() -> np.ndarray:
        async with Collector(source) as got:
            await hubs_open()
            _, writer = await _connect(port)
            broken = bytearray(frame_bytes(signal, 2))
            broken[40] ^= 0x10
            writer.write(b"\r\nAT+RST\r\n" + frame_bytes(signal, 0) + b"\x00" * 7)
            writer.write(frame_bytes(signal, 1) + bytes(broken) + frame_bytes(signal, 3))
            writer.write(frame_bytes(signal, 4, mcu_id=8))  # not this connection's MCU
            for i in range(4, 6):
                writer.write(frame_bytes(signal, i)[:20])
                await writer.drain()
                await asyncio.sleep(0.01)  # a frame split across TCP segments
                writer.write(frame_bytes(signal, i)[20:])
            await writer.drain()
            await got.wait_for(6 * FRAME)
            writer.close()
            await writer.wait_closed()
            # Wi-Fi came back: a new connection continues the stream.
            _, writer = await _connect(port)
            writer.write(b"".join(frame_bytes(signal, i) for i in range(6, 12)))
            await writer.drain()
            out = await got.wait_for(12 * FRAME)
            writer.close()
            await writer.wait_closed()
            return out

    out = asyncio.run(scenario())
    expected = signal.copy()
    expected[2 * FRAME : 3 * FRAME] = np.nan
    np.testing.assert_array_equal(out, expected)
    stats = source.stats
    # Garbage before frame 0, garbage after it, frame 2's CRC, the rest of frame 2, MCU 8's frame.
    assert stats.rejected_frames == 5
    assert stats.dropped_frames == 1
    assert stats.lost_samples == FRAME
    assert stats.reconnects == 1
    assert stats.last_error is not None
    assert "MCU 7 reconnected to tcp" in stats.last_error


def test_a_second_connection_for_the_same_mcu_replaces_the_first() -> None:
    port = free_port(socket.SOCK_STREAM)
    signal = int16_signal(4 * FRAME)
    source = open_bridge_source("tcp", f"127.0.0.1:{port}", 7, RATE)

    async def scenario() -> tuple[np.ndarray, bytes]:
        async with Collector(source) as got:
            await hubs_open()
            old_reader, old = await _connect(port)
            old.write(frame_bytes(signal, 0) + frame_bytes(signal, 1))
            await got.wait_for(2 * FRAME)
            _, new = await _connect(port)  # the MCU rebooted its TCP stack; old is half-open
            new.write(frame_bytes(signal, 2) + frame_bytes(signal, 3))
            out = await got.wait_for(4 * FRAME)
            closed = await asyncio.wait_for(old_reader.read(), 2)
            for writer in (old, new):
                writer.close()
            return out, closed

    out, closed = asyncio.run(scenario())
    np.testing.assert_array_equal(out, signal)
    assert closed == b""  # the gateway hung up the stale connection
    assert source.stats.reconnects == 1
