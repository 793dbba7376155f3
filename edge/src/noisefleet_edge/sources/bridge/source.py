"""One bridged MCU as an ``AudioSource``: frames from a hub, checked, reordered, delivered.

``blocks()`` does, until it is closed or cancelled:
1. acquire the hub of the address (the first user binds the socket or opens the device) and
   attach to it under the MCU id;
2. take the frames queued for the MCU, push them through the reorder buffer and yield what it
   releases as one block, NaN where audio was lost;
3. when no frame arrives for a while, release what the reorder buffer holds; every ``stall_s``
   without frames, note "no frames from MCU … for … s" in ``stats.last_error`` and keep waiting;
4. on exit, detach and release the hub (the last user closes the socket or device).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from noisefleet_edge.sources.base import FloatArray, SourceError, SourceStats
from noisefleet_edge.sources.bridge.framing import Frame, SampleFormat
from noisefleet_edge.sources.bridge.hub import (
    Hub,
    RateLimitedLog,
    parse_host_port,
    running_registry,
)
from noisefleet_edge.sources.bridge.reorder import ReorderBuffer, ReorderCounters
from noisefleet_edge.sources.bridge.serial import SerialHub, baud_constant
from noisefleet_edge.sources.bridge.tcp import TcpHub
from noisefleet_edge.sources.bridge.udp import UdpHub

if TYPE_CHECKING:
    from noisefleet_edge.sources.base import AudioSource

Transport = Literal["udp", "tcp", "serial"]
TRANSPORTS: tuple[Transport, ...] = ("udp", "tcp", "serial")
DEFAULT_REORDER_MS = 100.0
DEFAULT_BAUD = 921_600
DEFAULT_STALL_S = 10.0
MAX_REORDER_MS = 5_000.0
RESTART_FORWARD_S = 10.0
"""A sequence jump forward beyond this starts a new stream rather than a gap of NaN."""
RESTART_BACK_S = 1.0
"""A sequence jump back beyond this (or twice the reorder window) is an MCU restart."""
QUEUE_FRAMES = 2_000
TICK_S = 0.1
_U32 = 2**32


@dataclass
class BridgeStats(SourceStats):
    """``SourceStats`` plus what only a bridge drops on purpose."""

    duplicate_frames: int = 0
    """Frames received twice; the copy was dropped."""
    late_frames: int = 0
    """Frames that arrived after their audio was delivered as NaN; dropped."""


@dataclass(frozen=True)
class BridgeConfig:
    """A validated bridge source configuration (see ``open_bridge_source``)."""

    transport: Transport
    address: str
    """``host:port`` for udp/tcp, a device path for serial."""
    mcu_id: int
    sample_rate_hz: int
    sample_format: SampleFormat | None
    """The format frames must carry; None accepts any."""
    reorder_ms: float
    baud: int
    stall_s: float
    log_interval_s: float = 10.0
    """At most one warning per this many seconds per source."""

    @property
    def hub_key(self) -> tuple[str, str]:
        if self.transport == "serial":
            return (self.transport, os.path.realpath(self.address))
        host, port = parse_host_port(self.transport, self.address)
        return (self.transport, f"{host.lower()}:{port}")

    def make_hub(self) -> Hub:
        if self.transport == "serial":
            return SerialHub(self.address, self.baud)
        host, port = parse_host_port(self.transport, self.address)
        return UdpHub(host, port) if self.transport == "udp" else TcpHub(host, port)


def frame_problem(frame: Frame, config: BridgeConfig) -> str | None:
    """Why ``frame`` does not belong to this source's stream, or None."""
    if frame.sample_rate_hz != config.sample_rate_hz:
        return (
            f"MCU {frame.mcu_id} sent {frame.sample_rate_hz} Hz audio; "
            f"the source expects {config.sample_rate_hz} Hz"
        )
    if config.sample_format is not None and frame.sample_format is not config.sample_format:
        return (
            f"MCU {frame.mcu_id} sent {frame.sample_format.label} samples; "
            f"the source expects {config.sample_format.label}"
        )
    return None


class _Sink:
    """What the hub delivers to: a queue of frames, and the source's counters."""

    def __init__(self, config: BridgeConfig, stats: BridgeStats, log: RateLimitedLog) -> None:
        self._config = config
        self._stats = stats
        self._log = log
        self.queue: asyncio.Queue[Frame] = asyncio.Queue(QUEUE_FRAMES)

    def deliver(self, frame: Frame) -> None:
        problem = frame_problem(frame, self._config)
        if problem is not None:
            self.reject(problem)
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            # The reorder buffer turns the missing frame into NaN and counts it as dropped.
            self.note(
                f"MCU {frame.mcu_id}: {QUEUE_FRAMES} frames wait to be read; "
                "the consumer is not keeping up and a frame was dropped"
            )

    def reject(self, reason: str) -> None:
        self._stats.rejected_frames += 1
        self.note(reason)

    def reconnected(self, reason: str) -> None:
        self._stats.reconnects += 1
        self.note(reason)

    def note(self, reason: str) -> None:
        self._stats.last_error = reason
        self._log.warning(reason)


class BridgeSource:
    """Audio of one MCU reached through a UDP, TCP or serial bridge."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self._stats = BridgeStats()
        self._log = RateLimitedLog(config.log_interval_s)

    @property
    def sample_rate_hz(self) -> int:
        return self.config.sample_rate_hz

    @property
    def stats(self) -> BridgeStats:
        return self._stats

    def _reorder_buffer(self) -> ReorderBuffer:
        rate = self.config.sample_rate_hz
        window = round(self.config.reorder_ms * rate / 1000)
        return ReorderBuffer(
            window_samples=window,
            restart_back_samples=max(round(RESTART_BACK_S * rate), 2 * window),
            restart_forward_samples=round(RESTART_FORWARD_S * rate),
        )

    async def blocks(self) -> AsyncIterator[FloatArray]:
        config = self.config
        registry = running_registry()
        key = config.hub_key
        hub = await registry.acquire(key, config.make_hub)
        sink = _Sink(config, self._stats, self._log)
        try:
            hub.attach(config.mcu_id, sink)
            try:
                async with contextlib.aclosing(self._pump(sink, hub.label)) as pump:
                    async for block in pump:
                        yield block
            finally:
                hub.detach(config.mcu_id, sink)
        finally:
            registry.release(key, hub)

    async def _pump(self, sink: _Sink, label: str) -> AsyncGenerator[FloatArray, None]:
        config = self.config
        reorder = self._reorder_buffer()
        absorbed = ReorderCounters()
        loop = asyncio.get_running_loop()
        idle_flush_s = max(2 * config.reorder_ms / 1000, 0.2)
        last_frame_at = loop.time()
        stall_reports = 0
        while True:
            frames: list[Frame] = []
            try:
                async with asyncio.timeout(TICK_S):
                    frames.append(await sink.queue.get())
            except TimeoutError:
                pass
            now = loop.time()
            pieces: list[FloatArray] = []
            if frames:
                while not sink.queue.empty() and len(frames) < QUEUE_FRAMES:
                    frames.append(sink.queue.get_nowait())
                last_frame_at = now
                stall_reports = 0
                for frame in frames:
                    pieces.extend(
                        reorder.push(frame.first_sample, frame.frame_counter, frame.samples)
                    )
            else:
                idle_s = now - last_frame_at
                if reorder.held_frames and idle_s >= idle_flush_s:
                    pieces = reorder.flush()
                if idle_s >= config.stall_s * (stall_reports + 1):
                    stall_reports += 1
                    sink.note(f"no frames from MCU {config.mcu_id} for {idle_s:.3g} s on {label}")
            absorbed = self._absorb(reorder, absorbed, sink)
            if pieces:
                block = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
                self._stats.blocks += 1
                self._stats.samples += len(block)
                yield block

    def _absorb(
        self, reorder: ReorderBuffer, absorbed: ReorderCounters, sink: _Sink
    ) -> ReorderCounters:
        """Add what the reorder buffer counted since ``absorbed`` to the stats."""
        now = reorder.counters
        stats = self._stats
        stats.reordered_frames += now.reordered_frames - absorbed.reordered_frames
        stats.dropped_frames += now.dropped_frames - absorbed.dropped_frames
        stats.lost_samples += now.lost_samples - absorbed.lost_samples
        stats.duplicate_frames += now.duplicate_frames - absorbed.duplicate_frames
        stats.late_frames += now.late_frames - absorbed.late_frames
        if now.restarts != absorbed.restarts:
            sink.reconnected(f"MCU {self.config.mcu_id}: {reorder.last_restart}")
        return dataclasses.replace(now)


def open_bridge_source(
    transport: Transport,
    address: str,
    mcu_id: int,
    sample_rate_hz: int,
    sample_format: str | None = None,
    reorder_ms: float = DEFAULT_REORDER_MS,
    baud: int = DEFAULT_BAUD,
    *,
    stall_s: float = DEFAULT_STALL_S,
) -> BridgeSource:
    """A source for MCU ``mcu_id`` on ``address``; ``SourceError`` with one line if the
    arguments are wrong. The socket or device is opened when ``blocks()`` starts (a port in use
    or a missing device raises ``SourceError`` there)."""
    if transport not in TRANSPORTS:
        raise SourceError(f"unknown bridge transport '{transport}': use udp, tcp or serial")
    if isinstance(mcu_id, bool) or not isinstance(mcu_id, int) or not 0 <= mcu_id < _U32:
        raise SourceError(f"MCU id {mcu_id!r} is not an integer in 0..{_U32 - 1}")
    if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, int):
        raise SourceError(f"sample rate {sample_rate_hz!r} is not an integer number of Hz")
    if not 0 < sample_rate_hz < _U32:
        raise SourceError(f"sample rate {sample_rate_hz} Hz must be positive")
    fmt: SampleFormat | None = None
    if sample_format is not None:
        try:
            fmt = SampleFormat.from_label(sample_format)
        except ValueError as error:
            raise SourceError(str(error)) from None
    if not (math.isfinite(reorder_ms) and 0 <= reorder_ms <= MAX_REORDER_MS):
        raise SourceError(f"reorder window of {reorder_ms} ms must be within 0..{MAX_REORDER_MS:g}")
    if not (math.isfinite(stall_s) and stall_s > 0):
        raise SourceError(f"stall timeout of {stall_s} s must be positive")
    if transport == "serial":
        baud_constant(baud)
        if not address:
            raise SourceError("serial device path is empty")
        if not os.path.exists(address):
            raise SourceError(f"serial device '{address}' does not exist")
    else:
        parse_host_port(transport, address)
    config = BridgeConfig(
        transport, address, mcu_id, sample_rate_hz, fmt, reorder_ms, baud, stall_s
    )
    return BridgeSource(config)


if TYPE_CHECKING:
    _conforms: type[AudioSource] = BridgeSource
