"""The TCP hub: each connection carries one MCU's frames as a byte stream.

A connection is bound to the MCU id of its first good frame. A new connection for an MCU that
already has one replaces it (the old one is usually half-open after a Wi-Fi drop) and counts as a
reconnect, as does any later connection of an MCU seen before.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import weakref

from noisefleet_edge.sources.base import SourceError
from noisefleet_edge.sources.bridge.framing import FrameError, StreamDecoder
from noisefleet_edge.sources.bridge.hub import Hub, logger

READ_BYTES = 65_536


class TcpHub(Hub):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"tcp {host}:{port}")
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._writers: weakref.WeakSet[asyncio.StreamWriter] = weakref.WeakSet()
        self._by_mcu: dict[int, asyncio.StreamWriter] = {}
        self._seen: set[int] = set()

    async def open(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self._host, self._port)
        except socket.gaierror as error:
            raise SourceError(f"cannot listen on {self.label}: {error.strerror}") from error
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise SourceError(
                    f"cannot listen on {self.label}: the port is in use by another program"
                ) from error
            raise SourceError(f"cannot listen on {self.label}: {error.strerror}") from error

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        origin = f"from {peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "from a client"
        decoder = StreamDecoder()
        bound: int | None = None
        try:
            while data := await reader.read(READ_BYTES):
                for item in decoder.feed(data):
                    if isinstance(item, FrameError):
                        self._reject(bound, f"{item.reason} on {self.label} ({origin})")
                        continue
                    if bound is None:
                        bound = item.mcu_id
                        self._bind(bound, writer, origin)
                    if item.mcu_id != bound:
                        self._reject(
                            bound,
                            f"connection of MCU {bound} sent a frame for MCU {item.mcu_id} "
                            f"on {self.label} ({origin})",
                        )
                        continue
                    self.route(item, origin)
        except (ConnectionError, OSError) as error:
            logger.info("%s: connection %s ended: %s", self.label, origin, error)
        finally:
            if bound is not None and self._by_mcu.get(bound) is writer:
                del self._by_mcu[bound]
            writer.close()

    def _bind(self, mcu_id: int, writer: asyncio.StreamWriter, origin: str) -> None:
        previous = self._by_mcu.get(mcu_id)
        self._by_mcu[mcu_id] = writer
        if previous is not None:
            previous.close()
        if mcu_id in self._seen:
            sink = self.sink_for(mcu_id)
            if sink is not None:
                sink.reconnected(f"MCU {mcu_id} reconnected to {self.label} ({origin})")
        self._seen.add(mcu_id)

    def _reject(self, bound: int | None, reason: str) -> None:
        sink = self.sink_for(bound) if bound is not None else None
        if sink is None:
            self.reject_all(reason)
        else:
            sink.reject(reason)
