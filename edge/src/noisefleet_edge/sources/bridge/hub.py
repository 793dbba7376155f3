"""One receiver per listening address, shared by the sources that name it, routing by MCU id.

A hub is opened by the first source whose ``blocks()`` starts on an address and closed when the
last one ends. It hands each decoded frame to the sink attached for the frame's MCU id; problems
that belong to no attached MCU (an unknown id, a frame whose CRC fails) go to every sink on the
hub, so each sensor's heartbeat shows that its address receives junk.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from typing import Protocol

from noisefleet_edge.sources.base import SourceError
from noisefleet_edge.sources.bridge.framing import Frame, FrameError

logger = logging.getLogger("noisefleet_edge.sources.bridge")


class FrameSink(Protocol):
    """Where a hub delivers one MCU's frames and problems."""

    def deliver(self, frame: Frame) -> None: ...

    def reject(self, reason: str) -> None:
        """Count a refused frame (or run of garbage) and note why."""
        ...

    def reconnected(self, reason: str) -> None:
        """The MCU's link was re-established after it was lost."""
        ...

    def note(self, reason: str) -> None:
        """Record a problem that is not a frame (a device failure)."""
        ...


class RateLimitedLog:
    """Logs a warning at most once per ``interval_s``; counts the ones it held back."""

    def __init__(
        self, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self.suppressed = 0

    def warning(self, message: str) -> bool:
        """Log ``message`` unless one was logged less than ``interval_s`` ago; True if logged."""
        now = self._clock()
        if self._last is not None and now - self._last < self.interval_s:
            self.suppressed += 1
            return False
        if self.suppressed:
            logger.warning("%s (%d similar messages suppressed)", message, self.suppressed)
        else:
            logger.warning("%s", message)
        self._last = now
        self.suppressed = 0
        return True


class Hub:
    """Receives frames on one address; subclasses own the socket or device."""

    def __init__(self, label: str) -> None:
        self.label = label
        """Transport and address, e.g. 'udp 0.0.0.0:5000', for messages."""
        self.users = 0
        self._sinks: dict[int, FrameSink] = {}

    async def open(self) -> None:
        """Bind or open; ``SourceError`` with one line when that is impossible."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the socket or device (synchronous: it runs in a generator's ``finally``)."""
        raise NotImplementedError

    def attach(self, mcu_id: int, sink: FrameSink) -> None:
        if mcu_id in self._sinks:
            raise SourceError(f"MCU {mcu_id} on {self.label} already feeds another source")
        self._sinks[mcu_id] = sink

    def detach(self, mcu_id: int, sink: FrameSink) -> None:
        if self._sinks.get(mcu_id) is sink:
            del self._sinks[mcu_id]

    def sink_for(self, mcu_id: int) -> FrameSink | None:
        return self._sinks.get(mcu_id)

    def route(self, frame: Frame, origin: str) -> None:
        sink = self._sinks.get(frame.mcu_id)
        if sink is None:
            self.reject_all(f"frame from unknown MCU {frame.mcu_id} on {self.label} ({origin})")
        else:
            sink.deliver(frame)

    def reject_all(self, reason: str) -> None:
        for sink in list(self._sinks.values()):
            sink.reject(reason)

    def note_all(self, reason: str) -> None:
        for sink in list(self._sinks.values()):
            sink.note(reason)

    def reject_error(self, error: FrameError, origin: str) -> None:
        self.reject_all(f"{error.reason} on {self.label} ({origin})")


class HubRegistry:
    """The open hubs of one event loop, by (transport, address)."""

    def __init__(self) -> None:
        self._hubs: dict[tuple[str, str], Hub] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, key: tuple[str, str], make: Callable[[], Hub]) -> Hub:
        async with self._lock:
            hub = self._hubs.get(key)
            if hub is None:
                hub = make()
                await hub.open()
                self._hubs[key] = hub
            hub.users += 1
            return hub

    def release(self, key: tuple[str, str], hub: Hub) -> None:
        hub.users -= 1
        if hub.users <= 0:
            if self._hubs.get(key) is hub:
                del self._hubs[key]
            hub.close()

    def get(self, key: tuple[str, str]) -> Hub | None:
        """The open hub for ``key``, if any."""
        return self._hubs.get(key)

    def __len__(self) -> int:
        return len(self._hubs)


_REGISTRIES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HubRegistry] = (
    weakref.WeakKeyDictionary()
)


def running_registry() -> HubRegistry:
    """The hub registry of the running event loop (sockets belong to one loop)."""
    loop = asyncio.get_running_loop()
    registry = _REGISTRIES.get(loop)
    if registry is None:
        registry = _REGISTRIES[loop] = HubRegistry()
    return registry


def parse_host_port(transport: str, address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) checked; ``SourceError`` if it is not one."""
    host, sep, port_text = address.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or (":" in host and not bracketed):
        raise SourceError(f"{transport} address '{address}' is not host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise SourceError(f"{transport} address '{address}': port {port} is not in 1..65535")
    return host, port
