"""The UDP hub: one datagram is one frame; several MCUs may send to the same port."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from typing import Any

from noisefleet_edge.sources.base import SourceError
from noisefleet_edge.sources.bridge.framing import FrameError, decode_frame
from noisefleet_edge.sources.bridge.hub import Hub, logger

RECEIVE_BUFFER_BYTES = 1 << 20
"""Asked of the kernel so a burst (Wi-Fi catching up) is not dropped before the loop reads it."""


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, hub: UdpHub) -> None:
        self._hub = hub

    def datagram_received(self, data: bytes, addr: Any) -> None:
        origin = f"from {addr[0]}:{addr[1]}"
        try:
            frame = decode_frame(data)
        except FrameError as error:
            self._hub.reject_error(error, origin)
        else:
            self._hub.route(frame, origin)

    def error_received(self, exc: Exception) -> None:
        logger.debug("udp error on %s: %s", self._hub.label, exc)


class UdpHub(Hub):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"udp {host}:{port}")
        self._host = host
        self._port = port
        self._transport: asyncio.DatagramTransport | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), local_addr=(self._host, self._port)
            )
        except socket.gaierror as error:
            raise SourceError(f"cannot listen on {self.label}: {error.strerror}") from error
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise SourceError(
                    f"cannot listen on {self.label}: the port is in use by another program"
                ) from error
            raise SourceError(f"cannot listen on {self.label}: {error.strerror}") from error
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Capped or refused by the kernel: the default buffer still works.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self._transport = transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
