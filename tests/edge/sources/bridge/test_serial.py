"""The serial hub over a pseudo-terminal: raw bytes, split frames, garbage."""

from __future__ import annotations

import asyncio
import os
import tty

import numpy as np

from noisefleet_edge.sources.bridge import open_bridge_source
from noisefleet_edge.sources.bridge.framing import SampleFormat, encode_frame

from .helpers import FRAME, RATE, Collector, expected_with_gaps, hubs_open, int16_signal, until


def test_serial_source_reads_frames_from_a_pty() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    signal = np.round(int16_signal(6 * FRAME) * 1000) / 1024  # exact in float32
    frames = [
        encode_frame(
            signal[i * FRAME : (i + 1) * FRAME],
            mcu_id=7,
            first_sample=i * FRAME,
            sample_rate_hz=RATE,
            sample_format=SampleFormat.FLOAT32,
            frame_counter=i,
        )
        for i in range(6)
    ]
    source = open_bridge_source("serial", os.ttyname(slave), 7, RATE, "float32", baud=115200)

    async def scenario() -> np.ndarray:
        async with Collector(source) as got:
            await hubs_open()
            stream = (
                b"\xffnoise" + frames[0] + frames[1] + b"NF" + frames[2] + frames[4] + frames[5]
            )
            for start in range(0, len(stream), 700):  # chunks that split frames
                os.write(master, stream[start : start + 700])
                await asyncio.sleep(0.002)
            return await got.wait_for(6 * FRAME)

    try:
        out = asyncio.run(scenario())
    finally:
        os.close(master)
        os.close(slave)
    np.testing.assert_array_equal(out, expected_with_gaps(signal, {3}))
    assert source.stats.rejected_frames == 2  # the two runs of garbage
    assert source.stats.dropped_frames == 1


def test_a_hung_up_serial_device_is_noted_and_the_source_keeps_waiting() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    source = open_bridge_source("serial", os.ttyname(slave), 7, RATE)

    async def scenario() -> None:
        async with Collector(source):
            await hubs_open()
            os.close(master)  # the USB adapter was unplugged
            await until(lambda: source.stats.last_error is not None)
            await asyncio.sleep(0.05)  # no busy loop on a dead fd, no crash

    try:
        asyncio.run(scenario())
    finally:
        os.close(slave)
    assert source.stats.last_error is not None
    assert source.stats.last_error.startswith("serial /dev/pts/")
    assert "re-opening every 1 s" in source.stats.last_error
    assert source.stats.rejected_frames == 0
