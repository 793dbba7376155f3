"""The serial hub: frames as a byte stream on a UART (stdlib termios, fd read by the loop).

The device is put in raw 8N1 mode at the configured baud rate and read non-blocking through
``loop.add_reader``. If it fails (a USB adapter unplugged), it is closed and re-opened every
``REOPEN_INTERVAL_S`` seconds; each success counts as a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios

from noisefleet_edge.sources.base import SourceError
from noisefleet_edge.sources.bridge.framing import FrameError, StreamDecoder
from noisefleet_edge.sources.bridge.hub import Hub, logger

READ_BYTES = 65_536
REOPEN_INTERVAL_S = 1.0


def baud_constant(baud: int) -> int:
    """The termios speed constant for ``baud``; ``SourceError`` if the platform has none."""
    constant = getattr(termios, f"B{baud}", None)
    if not isinstance(constant, int) or baud <= 0:
        raise SourceError(f"baud rate {baud} is not supported by this system's serial driver")
    return constant


def open_serial(path: str, baud: int, flags: int = os.O_RDWR) -> int:
    """A non-blocking fd for ``path`` in raw 8N1 mode at ``baud``; ``SourceError`` on failure."""
    speed = baud_constant(baud)
    try:
        fd = os.open(path, flags | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SourceError(f"serial device '{path}' does not exist") from None
    except OSError as error:
        raise SourceError(f"cannot open serial device '{path}': {error.strerror}") from None
    try:
        iflag, oflag, cflag, lflag, _ispeed, _ospeed, cc = termios.tcgetattr(fd)
        # Raw bytes: no parity, no CR/LF translation, no flow control, no echo, no line editing.
        iflag = 0
        oflag = 0
        cflag &= ~(termios.CSIZE | termios.PARENB | termios.CSTOPB | getattr(termios, "CRTSCTS", 0))
        cflag |= termios.CS8 | termios.CREAD | termios.CLOCAL
        lflag = 0
        cc[termios.VMIN] = 0
        cc[termios.VTIME] = 0
        termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, cc])
    except (termios.error, OSError) as error:
        os.close(fd)
        raise SourceError(f"'{path}' is not a usable serial device: {error}") from None
    return fd


class SerialHub(Hub):
    def __init__(self, path: str, baud: int) -> None:
        super().__init__(f"serial {path}")
        self._path = path
        self._baud = baud
        self._fd: int | None = None
        self._decoder = StreamDecoder()
        self._reopen: asyncio.Task[None] | None = None
        self._closed = False

    async def open(self) -> None:
        self._attach_fd(open_serial(self._path, self._baud))

    def close(self) -> None:
        self._closed = True
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        self._detach_fd()

    def _attach_fd(self, fd: int) -> None:
        self._fd = fd
        self._decoder = StreamDecoder()
        asyncio.get_running_loop().add_reader(fd, self._on_readable)

    def _detach_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    def _on_readable(self) -> None:
        if self._fd is None:
            return
        try:
            data = os.read(self._fd, READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._lost(f"{self.label} failed: {error.strerror}")
            return
        if not data:
            self._lost(f"{self.label} hung up")
            return
        for item in self._decoder.feed(data):
            if isinstance(item, FrameError):
                self.reject_error(item, "serial")
            else:
                self.route(item, "serial")

    def _lost(self, reason: str) -> None:
        self._detach_fd()
        self.note_all(f"{reason}; re-opening every {REOPEN_INTERVAL_S:g} s")
        if not self._closed:
            self._reopen = asyncio.get_running_loop().create_task(self._reopen_until_open())

    async def _reopen_until_open(self) -> None:
        while not self._closed:
            await asyncio.sleep(REOPEN_INTERVAL_S)
            try:
                fd = open_serial(self._path, self._baud)
            except SourceError as error:
                logger.debug("%s", error)
                continue
            self._attach_fd(fd)
            for mcu_id in list(self._sinks):
                sink = self.sink_for(mcu_id)
                if sink is not None:
                    sink.reconnected(f"{self.label} re-opened")
            self._reopen = None
            return
