"""``noisefleet-mcu-emulator``: stream a WAV file as an MCU would, over UDP, TCP or serial.

Steps:
1. open the recording (the edge's reader: WAV, FLAC, …) and the link (a UDP socket, a TCP
   connection, a serial port);
2. cut one channel into frames of ``--frame-ms`` with consecutive sample indices (``--loop``
   continues the indices when the file starts over, as a live microphone would);
3. impair the frame sequence on request: drop, lose at random, swap neighbours, corrupt a CRC;
4. send each frame at its due time: real time, ``--speed`` times faster, or ``--fast``.

Every failure is one line on stderr starting with ``noisefleet-mcu-emulator: error:``, exit 1;
a wrong command line exits 2.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from noisefleet_edge.audio_files import (
    AudioInputError,
    Recording,
    check_channel,
    open_recording,
    read_blocks,
)
from noisefleet_edge.errors import NoisefleetEdgeError
from noisefleet_edge.sources.base import SourceError
from noisefleet_edge.sources.bridge.framing import (
    MAX_PAYLOAD_BYTES,
    SAMPLE_FORMAT_LABELS,
    SampleFormat,
    encode_frame,
)
from noisefleet_edge.sources.bridge.hub import parse_host_port
from noisefleet_edge.sources.bridge.serial import open_serial

PROG = "noisefleet-mcu-emulator"
CONNECT_TIMEOUT_S = 5.0


class EmulatorError(NoisefleetEdgeError):
    """The emulator cannot go on; one line for the user."""


@dataclass(frozen=True)
class Impairments:
    """What to do to the frame sequence; frame numbers count from 1."""

    drop_every: int = 0
    """Drop frames N, 2N, …; 0 drops none."""
    loss: float = 0.0
    """Probability of losing each frame (after ``drop_every``)."""
    seed: int | None = None
    swap_every: int = 0
    """Send frame N+1 before frame N, for N, 2N, …; 0 swaps none."""
    corrupt_every: int = 0
    """Flip a payload byte of frames N, 2N, … (their CRC then fails); 0 corrupts none."""


@dataclass
class SendReport:
    frames: int = 0
    samples: int = 0
    dropped: int = 0
    swapped: int = 0
    corrupted: int = 0


def frames_of(
    blocks: Iterable[np.ndarray],
    *,
    mcu_id: int,
    sample_rate_hz: int,
    sample_format: SampleFormat,
) -> Iterator[tuple[int, int, bytes]]:
    """(frame number from 1, sample count, encoded frame) for consecutive blocks."""
    first = 0
    for number, block in enumerate(blocks, start=1):
        frame = encode_frame(
            block,
            mcu_id=mcu_id,
            first_sample=first,
            sample_rate_hz=sample_rate_hz,
            sample_format=sample_format,
            frame_counter=number - 1,
        )
        yield number, len(block), frame
        first += len(block)


def corrupt(frame: bytes) -> bytes:
    """The frame with its last payload byte flipped: the CRC no longer matches."""
    position = len(frame) - 5
    return frame[:position] + bytes([frame[position] ^ 0xFF]) + frame[position + 1 :]


def impair(
    frames: Iterable[tuple[int, int, bytes]], impairments: Impairments, report: SendReport
) -> Iterator[tuple[int, bytes]]:
    """(slot number, frame bytes) to send, in sending order; the slot sets the due time.

    Dropping is decided first, then corruption, then swapping among the frames that remain.
    """
    rng = random.Random(impairments.seed)
    held: tuple[int, bytes] | None = None
    for number, _count, frame in frames:
        if _every(number, impairments.drop_every) or (
            impairments.loss > 0 and rng.random() < impairments.loss
        ):
            report.dropped += 1
            continue
        data = frame
        if _every(number, impairments.corrupt_every):
            data = corrupt(frame)
            report.corrupted += 1
        if held is not None:
            yield number, data
            yield held[0], held[1]
            held = None
            report.swapped += 1
        elif _every(number, impairments.swap_every):
            held = (number, data)
        else:
            yield number, data
    if held is not None:
        yield held


def _every(number: int, period: int) -> bool:
    return period > 0 and number % period == 0


def recording_blocks(
    recording: Recording, channel: int, frame_samples: int, loop: bool
) -> Iterator[np.ndarray]:
    """Blocks of ``frame_samples`` of one channel (the last one shorter), again with ``loop``."""
    while True:
        try:
            yield from read_blocks(recording, channel, frame_samples)
        except AudioInputError as error:
            raise EmulatorError(str(error)) from None
        if not loop:
            return


class Link(Protocol):
    def send(self, frame: bytes) -> None: ...

    def close(self) -> None: ...


class UdpLink:
    def __init__(self, address: str) -> None:
        host, port = _host_port("udp", address)
        try:
            family, kind, proto, _name, target = socket.getaddrinfo(
                host, port, type=socket.SOCK_DGRAM
            )[0]
        except socket.gaierror as error:
            raise EmulatorError(f"cannot resolve udp host '{host}': {error.strerror}") from None
        self._target = target
        self._socket = socket.socket(family, kind, proto)
        self._address = address

    def send(self, frame: bytes) -> None:
        try:
            self._socket.sendto(frame, self._target)
        except OSError as error:
            raise EmulatorError(f"cannot send to udp {self._address}: {error.strerror}") from None

    def close(self) -> None:
        self._socket.close()


class TcpLink:
    def __init__(self, address: str) -> None:
        host, port = _host_port("tcp", address)
        self._address = address
        try:
            self._socket = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        except socket.gaierror as error:
            raise EmulatorError(f"cannot resolve tcp host '{host}': {error.strerror}") from None
        except TimeoutError:
            raise EmulatorError(f"cannot connect to tcp {address}: timed out") from None
        except OSError as error:
            raise EmulatorError(f"cannot connect to tcp {address}: {error.strerror}") from None
        self._socket.settimeout(None)

    def send(self, frame: bytes) -> None:
        try:
            self._socket.sendall(frame)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise EmulatorError(f"tcp connection to {self._address} lost: {reason}") from None

    def close(self) -> None:
        self._socket.close()


class SerialLink:
    def __init__(self, path: str, baud: int) -> None:
        try:
            fd = open_serial(path, baud, os.O_WRONLY)
        except SourceError as error:
            raise EmulatorError(str(error)) from None
        os.set_blocking(fd, True)
        self._fd = fd
        self._path = path

    def send(self, frame: bytes) -> None:
        view = memoryview(frame)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as error:
            raise EmulatorError(
                f"cannot write to serial '{self._path}': {error.strerror}"
            ) from None

    def close(self) -> None:
        os.close(self._fd)


def _host_port(transport: str, address: str) -> tuple[str, int]:
    try:
        return parse_host_port(transport, address)
    except SourceError as error:
        raise EmulatorError(str(error)) from None


def send_all(
    frames: Iterable[tuple[int, bytes]],
    link: Link,
    frame_s: float,
    speed: float | None,
    report: SendReport,
) -> None:
    """Send each frame when its slot is due (``speed`` None: at once)."""
    start = time.monotonic()
    for slot, frame in frames:
        if speed is not None:
            delay = start + (slot - 1) * frame_s / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        link.send(frame)
        report.frames += 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Stream a WAV file as a noisefleet MCU bridge sensor would."
    )
    parser.add_argument("recording", help="WAV (or FLAC, …) recording to stream")
    link = parser.add_mutually_exclusive_group(required=True)
    link.add_argument("--udp", metavar="HOST:PORT", help="send one frame per datagram")
    link.add_argument("--tcp", metavar="HOST:PORT", help="connect and send a stream of frames")
    link.add_argument("--serial", metavar="DEVICE", help="write a stream of frames to a UART")
    parser.add_argument("--baud", type=int, default=921_600, help="serial baud rate")
    parser.add_argument("--mcu-id", type=int, default=1, help="MCU id in every frame (u32)")
    parser.add_argument("--format", choices=SAMPLE_FORMAT_LABELS, default="int16")
    parser.add_argument("--frame-ms", type=float, default=10.0, help="audio per frame")
    parser.add_argument("--channel", type=int, default=0, help="channel of the recording to send")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="N times real time")
    pace.add_argument("--fast", action="store_true", help="send as fast as possible")
    parser.add_argument("--loop", action="store_true", help="start over at the end (forever)")
    parser.add_argument("--drop-every", type=int, default=0, metavar="N", help="drop every Nth")
    parser.add_argument("--loss", type=float, default=0.0, help="probability to lose a frame")
    parser.add_argument("--seed", type=int, default=None, help="random seed for --loss")
    parser.add_argument("--swap-every", type=int, default=0, metavar="N", help="reorder: N, N+1")
    parser.add_argument(
        "--corrupt-every", type=int, default=0, metavar="N", help="break the CRC of every Nth"
    )
    return parser


def run(args: argparse.Namespace) -> SendReport:
    impairments = _impairments(args)
    if not 0 <= args.mcu_id < 2**32:
        raise EmulatorError(f"--mcu-id {args.mcu_id} is not in 0..{2**32 - 1}")
    if not (args.frame_ms > 0 and np.isfinite(args.frame_ms)):
        raise EmulatorError(f"--frame-ms {args.frame_ms} must be positive")
    if not (args.speed > 0 and np.isfinite(args.speed)):
        raise EmulatorError(f"--speed {args.speed} must be positive")
    if args.channel < 0:
        raise EmulatorError(f"--channel {args.channel} must not be negative")
    sample_format = SampleFormat.from_label(args.format)
    try:
        recording = open_recording(args.recording)
        check_channel(recording, args.channel)
    except AudioInputError as error:
        raise EmulatorError(str(error)) from None
    rate = recording.sample_rate_hz
    frame_samples = round(rate * args.frame_ms / 1000)
    if frame_samples < 1:
        raise EmulatorError(f"--frame-ms {args.frame_ms} is less than one sample at {rate} Hz")
    if frame_samples * sample_format.width > MAX_PAYLOAD_BYTES:
        raise EmulatorError(
            f"--frame-ms {args.frame_ms} makes {frame_samples * sample_format.width}-byte "
            f"payloads; the maximum is {MAX_PAYLOAD_BYTES}"
        )
    link = _open_link(args)
    report = SendReport()
    try:
        blocks = recording_blocks(recording, args.channel, frame_samples, args.loop)
        numbered = _count(
            frames_of(blocks, mcu_id=args.mcu_id, sample_rate_hz=rate, sample_format=sample_format),
            report,
        )
        speed = None if args.fast else args.speed
        send_all(impair(numbered, impairments, report), link, frame_samples / rate, speed, report)
    finally:
        link.close()
    return report


def _count(
    frames: Iterable[tuple[int, int, bytes]], report: SendReport
) -> Iterator[tuple[int, int, bytes]]:
    for item in frames:
        report.samples += item[1]
        yield item


def _impairments(args: argparse.Namespace) -> Impairments:
    for name in ("drop_every", "swap_every", "corrupt_every"):
        if getattr(args, name) < 0:
            raise EmulatorError(f"--{name.replace('_', '-')} must not be negative")
    if not 0 <= args.loss < 1:
        raise EmulatorError(f"--loss {args.loss} must be in [0, 1)")
    return Impairments(args.drop_every, args.loss, args.seed, args.swap_every, args.corrupt_every)


def _open_link(args: argparse.Namespace) -> Link:
    if args.udp is not None:
        return UdpLink(args.udp)
    if args.tcp is not None:
        return TcpLink(args.tcp)
    return SerialLink(args.serial, args.baud)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = run(args)
    except EmulatorError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(
        f"sent {report.frames} frames ({report.samples} samples read); dropped {report.dropped}, "
        f"swapped {report.swapped}, corrupted {report.corrupted}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
