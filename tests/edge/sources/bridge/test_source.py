"""The bridge source: argument checks, UDP routing, rejections, stalls, closing (real sockets)."""

from __future__ import annotations

import asyncio
import re
import socket

import numpy as np
import pytest

from noisefleet_edge.sources.base import SourceError
from noisefleet_edge.sources.bridge import open_bridge_source
from noisefleet_edge.sources.bridge.hub import running_registry

from .helpers import (
    FRAME,
    RATE,
    Collector,
    frame_bytes,
    free_port,
    hubs_open,
    int16_signal,
    send_udp,
    until,
)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"transport": "can"}, "unknown bridge transport 'can': use udp, tcp or serial"),
        ({"address": "localhost"}, "udp address 'localhost' is not host:port"),
        ({"address": "localhost:http"}, "udp address 'localhost:http' is not host:port"),
        ({"address": "::1:5000"}, "udp address '::1:5000' is not host:port"),
        ({"address": "h:70000"}, "port 70000 is not in 1..65535"),
        ({"transport": "tcp", "address": ":5000"}, "tcp address ':5000' is not host:port"),
        ({"mcu_id": -1}, "MCU id -1 is not an integer"),
        ({"mcu_id": 2**32}, "MCU id 4294967296 is not an integer"),
        ({"sample_rate_hz": 0}, "sample rate 0 Hz must be positive"),
        ({"sample_rate_hz": 48000.0}, "sample rate 48000.0 is not an integer"),
        ({"sample_format": "pcm8"}, "unknown sample format 'pcm8': use one of int16, int32"),
        ({"reorder_ms": -1.0}, "reorder window of -1.0 ms"),
        ({"reorder_ms": float("nan")}, "reorder window of nan ms"),
        ({"transport": "serial", "address": "/dev/no-such-uart"}, "'/dev/no-such-uart' does not"),
        ({"transport": "serial", "address": "/dev/null", "baud": 12345}, "baud rate 12345"),
    ],
)
def test_bad_arguments_are_refused_with_one_line(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "transport": "udp",
        "address": "127.0.0.1:5000",
        "mcu_id": 7,
        "sample_rate_hz": RATE,
    }
    arguments.update(kwargs)
    with pytest.raises(SourceError) as caught:
        open_bridge_source(**arguments)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_silent_mcu_is_noted_in_last_error_while_the_source_keeps_waiting() -> None:
    port = free_port()
    source = open_bridge_source("udp", f"127.0.0.1:{port}", 7, RATE, stall_s=0.3)
    signal = int16_signal(FRAME)

    async def scenario() -> np.ndarray:
        async with Collector(source) as got:
            await hubs_open()
            await until(lambda: source.stats.last_error is not None)
            assert re.fullmatch(
                r"no frames from MCU 7 for \d+(\.\d+)? s on udp .*", source.stats.last_error
            )
            send_udp(port, frame_bytes(signal, 0))
            return await got.wait_for(FRAME)

    np.testing.assert_array_equal(asyncio.run(scenario()), signal)


def test_closing_or_cancelling_releases_the_port() -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"

    async def scenario() -> None:
        source = open_bridge_source("udp", address, 7, RATE)
        gen = source.blocks()
        task = asyncio.create_task(anext(gen))  # type: ignore[arg-type]
        await hubs_open()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await gen.aclose()  # type: ignore[attr-defined]
        assert len(running_registry()) == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", port))  # free again

        # A consumer cancelled while waiting: CancelledError reaches it and the port is freed.
        async def consume() -> None:
            async for _ in open_bridge_source("udp", address, 8, RATE).blocks():
                pass

        consumer = asyncio.create_task(consume())
        await hubs_open()
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        assert len(running_registry()) == 0

    asyncio.run(scenario())


def test_a_port_in_use_and_a_taken_mcu_id_are_one_line_errors() -> None:
    async def scenario() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
            squatter.bind(("127.0.0.1", 0))
            port = squatter.getsockname()[1]
            with pytest.raises(SourceError, match=r"udp 127\.0\.0\.1:\d+: the port is in use"):
                await anext(open_bridge_source("udp", f"127.0.0.1:{port}", 7, RATE).blocks())  # type: ignore[arg-type]
        address = f"127.0.0.1:{free_port()}"
        async with Collector(open_bridge_source("udp", address, 7, RATE)):
            await hubs_open()
            with pytest.raises(SourceError, match=r"MCU 7 on udp \S+ already feeds another source"):
                await anext(open_bridge_source("udp", address, 7, RATE).blocks())  # type: ignore[arg-type]
            assert running_registry().get(("udp", address)).users == 1
        assert len(running_registry()) == 0

    asyncio.run(scenario())
