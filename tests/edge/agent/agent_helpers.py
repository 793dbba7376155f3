"""Tools for the edge agent's end-to-end tests (``test_agent.py``).

- ``write_config``: an ``edge.toml`` for a broker, a state directory and some sensors;
- ``AgentProcess``: ``noisefleet-edge run --config …`` as a real subprocess, stderr to a file;
- ``Collector``: a reader of ``noisefleet/#`` (QoS 1, persistent session) on its own thread and
  event loop, so the test's thread stays free to stop brokers and signal the agent; it
  reconnects by itself after a broker restart and keeps every message with its arrival time;
- ``analyze``: what ``noisefleet-edge analyze`` reports for a recording (the reference);
- comparison helpers: record fields without timestamps, de-duplication by message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from noisefleet_core.contract.commands import Command, StateReport, decode_command
from noisefleet_core.contract.messages import (
    EventsMessage,
    LevelsMessage,
    Message,
    StatusMessage,
    decode,
)
from noisefleet_core.contract.topics import topic
from tests.support.mosquitto import Mosquitto

BIN = Path(sys.executable).parent
EDGE = BIN / "noisefleet-edge"
EMULATOR = BIN / "noisefleet-mcu-emulator"
REPO = Path(__file__).resolve().parents[3]
ADD_DEVICE = REPO / "deploy" / "mosquitto" / "add-device.sh"
SITE = "park"
DATA_KINDS = ("levels", "events", "heartbeat")
TIMESTAMP_FIELDS = ("start", "end", "source", "channel")
"""Fields that differ between the agent and ``analyze`` by design: wall-clock times, the
source name (file path vs sensor id) and the channel (``analyze`` names it)."""


# -- configuration ---------------------------------------------------------------------------


def toml_value(value: object) -> str:
    """A TOML value for the few types a config needs (inline tables for mappings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a TOML basic string takes JSON's escapes
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def file_sensor(
    sensor_id: str, path: Path, speed: float = 0.0, loop: bool = False, **extra: Any
) -> dict[str, Any]:
    """A calibrated (120 dB, realistic for ``demo.street_recording``) file sensor."""
    return {
        "id": sensor_id,
        "calibration_offset_db": 120.0,
        "source": {"type": "file", "path": path, "speed": speed, "loop": loop},
        **extra,
    }


def write_config(
    path: Path,
    port: int,
    sensors: Sequence[Mapping[str, Any]],
    *,
    heartbeat_s: float = 60.0,
    drain_timeout_s: float = 10.0,
    state_dir: Path | None = None,
) -> Path:
    """``path`` holding an agent config for a plain-MQTT broker on 127.0.0.1:``port``."""
    lines = [
        "[agent]",
        f"site = {toml_value(SITE)}",
        f"state_dir = {toml_value(state_dir or path.parent / 'state')}",
        f"heartbeat_s = {toml_value(heartbeat_s)}",
        "",
        "[mqtt]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f"drain_timeout_s = {toml_value(drain_timeout_s)}",
    ]
    for sensor in sensors:
        lines += ["", "[[sensors]]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in sensor.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def outbox_path(config: Path) -> Path:
    return config.parent / "state" / "outbox.sqlite"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_port_taken(port: int) -> bool:
    """Whether someone (the agent's bridge) listens on 127.0.0.1:``port``/udp."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


# -- the agent process -----------------------------------------------------------------------


class AgentProcess:
    """``noisefleet-edge run --config CONFIG``; stderr (its log) goes to ``CONFIG.stderr.N``."""

    count = 0

    def __init__(self, config: Path, *args: str) -> None:
        AgentProcess.count += 1
        self.log_path = config.with_name(f"{config.stem}.stderr.{AgentProcess.count}")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(EDGE), "run", "--config", str(config), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    @property
    def stderr(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the agent did not exit within {timeout:g} s; its log:\n{self.stderr[-3000:]}"
            ) from None

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit status."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def __enter__(self) -> AgentProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.running():
            self.process.kill()
            self.process.wait()


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EDGE), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def start_cli(*args: str) -> subprocess.Popen[str]:
    """``noisefleet-edge ARGS`` started (``communicate()`` for its output)."""
    return subprocess.Popen(
        [str(EDGE), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


# -- the reference: noisefleet-edge analyze --------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    levels: list[dict[str, Any]]
    events: list[dict[str, Any]]


def analyze(path: Path, interval_s: float = 1.0) -> Analysis:
    """``noisefleet-edge analyze PATH --calibration-offset-db 120 --format jsonl``."""
    done = run_cli(
        "analyze",
        str(path),
        "--calibration-offset-db",
        "120",
        "--interval-s",
        str(interval_s),
        "--format",
        "jsonl",
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return Analysis(
        [r for r in records if r["kind"] == "levels"],
        [r for r in records if r["kind"] == "event"],
    )


def without(record: Mapping[str, Any], names: Iterable[str] = TIMESTAMP_FIELDS) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in set(names) | {"event_id"}}


def seconds_between(later: str, earlier: str) -> float:
    return (parse_time(later) - parse_time(earlier)).total_seconds()


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the subscriber --------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float
    """``time.monotonic()`` at arrival."""
    wall: datetime

    @property
    def kind(self) -> str:
        return self.topic.rsplit("/", 1)[-1]

    @property
    def sensor(self) -> str:
        return self.topic.split("/")[3]

    def message(self) -> Message:
        return decode(self.topic, self.payload)

    def command(self) -> Command:
        return decode_command(self.topic, self.payload)


class Collector:
    """Reads ``noisefleet/#`` at QoS 1 in a persistent session (MQTT 5, session expiry 10 min)
    on a thread of its own; reconnects until ``stop`` (subscribing once: the broker keeps the
    subscription, and a second SUBSCRIBE would re-send every retained message)."""

    def __init__(self, broker: Mosquitto, client_id: str = "collector", **login: Any) -> None:
        self.broker = broker
        self.client_id = client_id
        self.login = login
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, name="collector", daemon=True)
        self.connects = 0

    # -- thread side

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # handed to the test thread by stop()
            self._error = error

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        with contextlib.suppress(asyncio.CancelledError):
            while not self._stopping.is_set():
                try:
                    await self._session()
                except aiomqtt.MqttError:
                    await asyncio.sleep(0.1)

    async def _session(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 600
        client = aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            keepalive=5,
            **self.login,
        )
        async with client:
            self.connects += 1
            if not self._subscribed.is_set():
                await client.subscribe("noisefleet/#", qos=1)
                self._subscribed.set()
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes | bytearray)
                item = Received(
                    message.topic.value,
                    bytes(payload),
                    message.retain,
                    time.monotonic(),
                    datetime.now(UTC),
                )
                with self._lock:
                    self._received.append(item)

    # -- test side

    def start(self) -> Collector:
        self._thread.start()
        if not self._subscribed.wait(10):
            self.stop()
            raise AssertionError("the collector did not subscribe within 10 s")
        return self

    def stop(self) -> None:
        self._stopping.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(task.cancel)
        self._thread.join(10)
        if self._error is not None:
            raise self._error

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def of(self, sensor: str, *kinds: str) -> list[Received]:
        """What arrived on the sensor's topics of these kinds (all if none), in order."""
        prefix = topic(SITE, sensor, "levels").rsplit("/", 1)[0] + "/"
        return [
            r
            for r in self.received
            if r.topic.startswith(prefix) and (not kinds or r.kind in kinds)
        ]

    def messages(self, sensor: str, *kinds: str) -> list[Message]:
        return [r.message() for r in self.of(sensor, *(kinds or (*DATA_KINDS, "status")))]

    def states(self, sensor: str) -> list[StateReport]:
        reports = [r.command() for r in self.of(sensor, "state")]
        assert all(isinstance(r, StateReport) for r in reports)
        return reports  # type: ignore[return-value]

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self._error is not None or not self._thread.is_alive():
                raise AssertionError(f"the collector stopped: {self._error!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.02)


def publish(broker: Mosquitto, messages: Sequence[tuple[str, bytes]], **login: Any) -> None:
    """Publish ``(topic, payload)`` pairs at QoS 1 (not retained), in order, then disconnect."""

    async def send() -> None:
        async with aiomqtt.Client(
            broker.host, broker.port, identifier="commander", **login
        ) as client:
            for name, payload in messages:
                await client.publish(name, payload, qos=1)

    asyncio.run(send())


def retained(broker: Mosquitto, name: str, timeout: float = 3.0, **login: Any) -> bytes | None:
    """The retained payload on ``name`` as a new subscriber sees it (None if there is none)."""

    async def read() -> bytes | None:
        async with aiomqtt.Client(broker.host, broker.port, identifier="probe", **login) as client:
            await client.subscribe(name, qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    async for message in client.messages:
                        if message.retain:
                            assert isinstance(message.payload, bytes)
                            return message.payload
        return None

    return asyncio.run(read())


# -- what arrived ----------------------------------------------------------------------------


def first_arrivals(messages: Iterable[Message]) -> list[Message]:
    """The messages without redeliveries (the server's de-duplication by ``message_id``); a
    redelivery must be the same message (only ``replayed`` may differ)."""
    seen: dict[str, Message] = {}
    out: list[Message] = []
    for message in messages:
        envelope = message.envelope
        first = seen.get(envelope.message_id)
        if first is None:
            seen[envelope.message_id] = message
            out.append(message)
            continue
        assert _same_but_replayed(first, message), f"message_id reused: {first} vs {message}"
    return out


def _same_but_replayed(a: Message, b: Message) -> bool:
    return replace(a, envelope=replace(a.envelope, replayed=False)) == replace(
        b, envelope=replace(b.envelope, replayed=False)
    )


def data_of(messages: Iterable[Message]) -> list[Message]:
    return [m for m in messages if not isinstance(m, StatusMessage)]


def statuses(messages: Iterable[Message]) -> list[StatusMessage]:
    return [m for m in messages if isinstance(m, StatusMessage)]


def level_records(messages: Iterable[Message]) -> list[dict[str, Any]]:
    return [r for m in messages if isinstance(m, LevelsMessage) for r in m.records]


def event_records(messages: Iterable[Message]) -> list[dict[str, Any]]:
    return [e for m in messages if isinstance(m, EventsMessage) for e in m.events]


def sequences(messages: Iterable[Message]) -> list[int]:
    return [m.envelope.sequence for m in messages]


def read_outbox(path: Path) -> tuple[list[tuple[int, str, int, bytes]], list[dict[str, Any]]]:
    """(rows ``(id, topic, sequence, payload)``, staged records) of an outbox no process holds
    (the agent opens it in exclusive locking mode: nobody can read it while the agent runs)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, topic, sequence, payload FROM outbox ORDER BY id").fetchall()
        staged = [json.loads(r[0]) for r in db.execute("SELECT record FROM staged ORDER BY id")]
        return [(int(a), str(b), int(c), bytes(d)) for a, b, c, d in rows], staged
    finally:
        db.close()


def add_device(directory: Path, *args: str, password: str) -> None:
    """``deploy/mosquitto/add-device.sh ARGS`` on a password and an ACL file in ``directory``."""
    env = {
        **os.environ,
        "MOSQUITTO_PASSWD_FILE": str(directory / "passwd"),
        "MOSQUITTO_ACL_FILE": str(directory / "acl"),
    }
    subprocess.run(
        [str(ADD_DEVICE), *args],
        input=f"{password}\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )


def dead_letters(path: Path) -> list[tuple[str, str]]:
    """``(topic, reason)`` of the dead letters of an outbox no process holds."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [(str(t), str(r)) for t, r in db.execute("SELECT topic, reason FROM dead_letters")]
    finally:
        db.close()
