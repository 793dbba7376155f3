"""The UDP hub over loopback: routing by MCU id, rejections, loss, reorder and restarts."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from noisefleet_edge.sources.bridge import open_bridge_source
from noisefleet_edge.sources.bridge.framing import SampleFormat
from noisefleet_edge.sources.bridge.hub import running_registry

from .helpers import (
    FRAME,
    RATE,
    Collector,
    expected_with_gaps,
    frame_bytes,
    free_port,
    hubs_open,
    int16_signal,
    send_udp,
    until,
)


def test_two_mcus_on_one_udp_port_are_routed_and_strangers_rejected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    a, b = int16_signal(10 * FRAME, seed=1), int16_signal(10 * FRAME, seed=2)
    first = open_bridge_source("udp", address, 1, RATE, "int16")
    second = open_bridge_source("udp", address, 2, RATE)

    async def scenario() -> tuple[np.ndarray, np.ndarray]:
        async with Collector(first) as got_a, Collector(second) as got_b:
            await hubs_open(1)
            await until(lambda: running_registry().get(("udp", address)).users == 2)
            for i in range(10):
                send_udp(port, frame_bytes(a, i, mcu_id=1), frame_bytes(b, i, mcu_id=2))
                if i == 4:
                    send_udp(
                        port,
                        frame_bytes(a, i, mcu_id=3),  # nobody listens for MCU 3
                        frame_bytes(a, i, mcu_id=1, rate=44100),  # wrong rate
                        frame_bytes(a, i, mcu_id=1, sample_format=SampleFormat.FLOAT32),
                        b"NFMB\x01junk",  # truncated
                    )
            out_a = await got_a.wait_for(len(a))
            out_b = await got_b.wait_for(len(b))
        assert len(running_registry()) == 0
        return out_a, out_b

    with caplog.at_level(logging.WARNING, logger="noisefleet_edge.sources.bridge"):
        out_a, out_b = asyncio.run(scenario())
    np.testing.assert_array_equal(out_a, a)
    np.testing.assert_array_equal(out_b, b)
    # Unknown MCU and truncated frame are charged to both sources on the port.
    assert first.stats.rejected_frames == 4
    assert second.stats.rejected_frames == 2
    assert second.stats.last_error is not None
    assert "shorter than" in second.stats.last_error
    assert first.stats.blocks >= 1
    assert first.stats.samples == len(a)
    assert first.stats.lost_samples == 0
    assert len(caplog.records) == 2  # one per source: the rest is rate-limited


def test_loss_reorder_duplicates_and_restart_are_counted_over_udp() -> None:
    port = free_port()
    signal = int16_signal(30 * FRAME)
    source = open_bridge_source("udp", f"127.0.0.1:{port}", 7, RATE, reorder_ms=30)

    async def scenario() -> np.ndarray:
        async with Collector(source) as got:
            await hubs_open()
            order = [0, 1, 3, 2, 2, 4, 6, 7, 8, 9, 10, 5, *range(11, 20)]  # 5 lost, then late
            # The MCU has been streaming for a minute when the test starts listening.
            send_udp(port, *(frame_bytes(signal, i, base=60 * RATE) for i in order))
            await got.wait_for(20 * FRAME)
            send_udp(port, *(frame_bytes(signal, i) for i in range(3)))  # the MCU rebooted
            return await got.wait_for(23 * FRAME)

    out = asyncio.run(scenario())
    expected = np.concatenate([expected_with_gaps(signal[: 20 * FRAME], {5}), signal[: 3 * FRAME]])
    np.testing.assert_array_equal(out, expected)
    stats = source.stats
    assert (stats.reordered_frames, stats.duplicate_frames, stats.late_frames) == (1, 1, 1)
    assert (stats.dropped_frames, stats.lost_samples) == (1, FRAME)
    assert stats.reconnects == 1
    assert stats.last_error is not None
    assert "jumped back" in stats.last_error
    assert stats.samples == 23 * FRAME
