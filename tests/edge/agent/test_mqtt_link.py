"""The sensor link against a real mosquitto: order, status, Will, restarts, ACL, auth, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from noisefleet_core.contract.messages import Message, StatusMessage, decode, mark_replayed
from noisefleet_edge.agent.mqtt_link import (
    LinkSettings,
    SensorLink,
    backoff_delay,
    device_username,
)
from noisefleet_edge.agent.outbox import Outbox
from tests.support.mosquitto import Mosquitto

from .conftest import BrokerFactory
from .helpers import SITE, clock, heartbeat_builder, heartbeat_topic

REPO = Path(__file__).resolve().parents[3]
ADD_DEVICE = REPO / "deploy" / "mosquitto" / "add-device.sh"
MIB = 1 << 20


# -- helpers ---------------------------------------------------------------------------------


def settings_for(broker: Mosquitto, sensor: str = "s01", **options: Any) -> LinkSettings:
    base = LinkSettings(
        broker.host,
        device_username(SITE, sensor),
        port=broker.port,
        tls=False,
        backoff_min_s=0.05,
        backoff_max_s=0.2,
        auth_retry_s=0.2,
        connect_timeout_s=3.0,
        ack_timeout_s=3.0,
    )
    return replace(base, **options)


class Watcher:
    """A second client that reads ``noisefleet/#`` in a persistent session and keeps what
    arrives (topic, payload, retain), so it can reconnect after a broker restart."""

    def __init__(self, broker: Mosquitto, client_id: str = "watcher", **login: Any) -> None:
        self.broker = broker
        self.client_id = client_id
        self.login = login
        self.received: list[tuple[str, bytes, bool]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def _run(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 600
        client = aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            **self.login,
        )
        async with client:
            await client.subscribe("noisefleet/#", qos=1)
            self._ready.set()
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes | bytearray)
                self.received.append((message.topic.value, bytes(payload), message.retain))

    async def start(self) -> None:
        self._ready.clear()
        self._task = asyncio.create_task(self._run())
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({ready, self._task}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self._task.done():
            self._task.result()
        assert self._ready.is_set(), "the watcher did not subscribe"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._task

    def messages(self, kind: str, sensor: str = "s01") -> list[Message]:
        wanted = f"noisefleet/v1/{SITE}/{sensor}/{kind}"
        return [decode(t, p) for t, p, _ in self.received if t == wanted]

    async def wait_for(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(link: SensorLink) -> AsyncIterator[asyncio.Event]:
    """Run the link; on exit set its stop event and wait for ``run`` to return."""
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task


async def retained_status(broker: Mosquitto, sensor: str = "s01", **login: Any) -> StatusMessage:
    """The retained status message as a new subscriber sees it."""
    async with aiomqtt.Client(broker.host, broker.port, identifier="probe", **login) as client:
        name = f"noisefleet/v1/{SITE}/{sensor}/status"
        await client.subscribe(name, qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                assert message.retain
                assert isinstance(message.payload, bytes)
                status = decode(name, message.payload)
                assert isinstance(status, StatusMessage)
                return status
    raise AssertionError("no retained status")


def enqueue_heartbeats(outbox: Outbox, sensor: str, count: int, start: float = 0.0) -> list[bytes]:
    return [
        outbox.enqueue(
            sensor, heartbeat_topic(sensor), heartbeat_builder(sensor, start + i)
        ).payload
        for i in range(count)
    ]


def clean(message: Message) -> Message:
    """The message with ``replayed`` set, to compare a replay with what was stored."""
    return mark_replayed(message)


# -- pure parts ------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_maximum_with_jitter() -> None:
    assert backoff_delay(0, 1.0, 60.0, 0.0) == 0.5
    assert backoff_delay(0, 1.0, 60.0, 0.999999) == pytest.approx(1.0)
    assert backoff_delay(3, 1.0, 60.0, 1.0) == 8.0
    assert backoff_delay(10, 1.0, 60.0, 1.0) == 60.0
    assert backoff_delay(10_000, 1.0, 60.0, 0.0) == 30.0


def test_settings_never_show_the_password() -> None:
    settings = LinkSettings("broker", "park.s01", username="park.s01", password="hunter2")
    assert "hunter2" not in repr(settings)
    assert device_username("park", "s01") == "park.s01"
    with pytest.raises(ValueError, match="cert_file and key_file"):
        LinkSettings("broker", "c", cert_file=Path("c.pem"))


# -- against a broker ------------------------------------------------------------------------


@pytest.mark.integration
def test_messages_arrive_intact_in_order_with_backlog_replayed_and_status(
    broker: Mosquitto, tmp_path: Path
) -> None:
    async def scenario() -> None:
        watcher = Watcher(broker)
        await watcher.start()
        with Outbox(tmp_path / "o.sqlite", MIB) as outbox:
            backlog = enqueue_heartbeats(outbox, "s01", 20)
            link = SensorLink(
                settings_for(broker, max_in_flight=4), SITE, "s01", outbox, None, clock
            )
            async with running(link):
                await watcher.wait_for(lambda: len(watcher.messages("heartbeat")) == 20)
                assert watcher.messages("status")[0].state == "online"  # type: ignore[union-attr]
                live = []
                for i in range(20):
                    live += await asyncio.to_thread(enqueue_heartbeats, outbox, "s01", 1, 100 + i)
                    link.notify()
                await watcher.wait_for(lambda: len(watcher.messages("heartbeat")) == 40)
            assert outbox.depth() == 0
            stats = link.stats
        await watcher.stop()
        received = watcher.messages("heartbeat")
        stored = [decode(heartbeat_topic("s01"), p) for p in backlog + live]
        assert received[:20] == [clean(m) for m in stored[:20]], "backlog: intact, replayed"
        assert received[20:] == stored[20:], "live messages: byte-identical content, not replayed"
        assert [m.envelope.sequence for m in received] == list(range(1, 41))
        assert (stats.published, stats.replayed, stats.connects, stats.refused) == (40, 20, 1, 0)
        stopped = await retained_status(broker)
        assert (stopped.state, stopped.envelope.sequence) == ("stopped", 40)

    asyncio.run(scenario())


@pytest.mark.integration
def test_commands_reach_the_handler_and_state_is_published_retained(
    broker: Mosquitto, tmp_path: Path
) -> None:
    async def scenario() -> None:
        commands: list[tuple[str, bytes]] = []

        async def on_command(kind: str, payload: bytes) -> None:
            commands.append((kind, payload))
            if payload == b"boom":
                raise RuntimeError("bad command")

        with Outbox(tmp_path / "o.sqlite", MIB) as outbox:
            link = SensorLink(settings_for(broker), SITE, "s01", outbox, on_command, clock)
            async with running(link):
                async with aiomqtt.Client(broker.host, broker.port, identifier="server") as server:
                    while not link.stats.connected:
                        await asyncio.sleep(0.02)
                    await asyncio.sleep(0.2)  # the link subscribes right after connecting
                    base = f"noisefleet/v1/{SITE}/s01"
                    await server.publish(f"{base}/set", b"boom", qos=1)
                    await server.publish(f"{base}/set", b'{"a":1}', qos=1)
                    await server.publish(f"{base}/model", b"model-bytes", qos=1)
                    await server.publish(f"noisefleet/v1/{SITE}/s02/set", b"not mine", qos=1)
                    async with asyncio.timeout(5):
                        while len(commands) < 3:
                            await asyncio.sleep(0.02)
                assert await link.publish_state(b'{"applied":1}')
        assert commands == [("set", b"boom"), ("set", b'{"a":1}'), ("model", b"model-bytes")]
        async with aiomqtt.Client(broker.host, broker.port) as probe:
            await probe.subscribe(f"noisefleet/v1/{SITE}/s01/state", qos=1)
            async with asyncio.timeout(5):
                message = await anext(aiter(probe.messages))
        assert (message.payload, message.retain) == (b'{"applied":1}', True)

    asyncio.run(scenario())


@pytest.mark.integration
def test_the_will_says_offline_when_the_agent_is_killed(broker: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        watcher = Watcher(broker)
        await watcher.start()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.edge.agent.link_process", str(broker.port),
            str(tmp_path / "o.sqlite"), cwd=REPO, stdout=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert child.stdout is not None
            async with asyncio.timeout(15):
                assert await child.stdout.readline() == b"connected\n"
            await watcher.wait_for(lambda: len(watcher.messages("status")) == 1)
            os.kill(child.pid, signal.SIGKILL)
            await watcher.wait_for(lambda: len(watcher.messages("status")) == 2)
        finally:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
        await watcher.stop()
        states = [(m.state, m.reason) for m in watcher.messages("status")]  # type: ignore[union-attr]
        assert states == [("online", None), ("offline", "connection lost")]
        assert (await retained_status(broker)).state == "offline"

    asyncio.run(scenario())


@pytest.mark.integration
def test_a_broker_restart_loses_nothing_and_the_backlog_is_replayed(
    broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sensors = ("s01", "s02")

    async def scenario() -> None:
        watcher = Watcher(broker)
        await watcher.start()
        with Outbox(tmp_path / "o.sqlite", MIB) as outbox:
            links = [
                SensorLink(settings_for(broker, s), SITE, s, outbox, None, clock) for s in sensors
            ]
            async with running(links[0]), running(links[1]):
                await watcher.wait_for(lambda: all(link.stats.connected for link in links))
                for sensor, link in zip(sensors, links, strict=True):
                    enqueue_heartbeats(outbox, sensor, 5)
                    link.notify()
                await watcher.wait_for(
                    lambda: all(len(watcher.messages("heartbeat", s)) == 5 for s in sensors)
                )
                await watcher.stop()
                broker.stop()
                await asyncio.sleep(0.3)
                for sensor, link in zip(sensors, links, strict=True):
                    enqueue_heartbeats(outbox, sensor, 10, start=5)
                    link.notify()
                await asyncio.sleep(0.5)  # several failed reconnects
                assert not any(link.stats.connected for link in links)
                broker.start()  # same port, same persistence file
                await watcher.start()
                await watcher.wait_for(lambda: outbox.depth() == 0)
                await watcher.wait_for(
                    lambda: all(len(watcher.messages("heartbeat", s)) >= 15 for s in sensors)
                )
            stats = [link.stats for link in links]
        await watcher.stop()
        for sensor, stat in zip(sensors, stats, strict=True):
            received = watcher.messages("heartbeat", sensor)
            first_seen: dict[str, Message] = {}
            for message in received:
                first_seen.setdefault(message.envelope.message_id, message)
            ordered = list(first_seen.values())
            assert [m.envelope.sequence for m in ordered] == list(range(1, 16)), sensor
            assert all(m.envelope.replayed for m in ordered[5:]), "sent after the outage"
            assert not any(m.envelope.replayed for m in ordered[:5])
            assert (stat.connects, stat.disconnects) == (2, 1)

    with caplog.at_level(logging.WARNING, logger="noisefleet_edge"):
        asyncio.run(scenario())
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("noisefleet_edge")]
    assert any("connection lost" in line for line in lines)
    assert any("cannot reach the broker" in line for line in lines)
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"


def add_user(directory: Path, *args: str, password: str) -> None:
    env = {**os.environ, "MOSQUITTO_PASSWD_FILE": str(directory / "passwd"),
           "MOSQUITTO_ACL_FILE": str(directory / "acl")}  # fmt: skip
    subprocess.run(
        [str(ADD_DEVICE), *args], input=f"{password}\n", text=True, env=env, check=True,
        capture_output=True, timeout=30,
    )  # fmt: skip


@pytest.mark.integration
def test_the_deploy_acl_refuses_another_devices_topic_and_the_link_dead_letters_it(
    broker_factory: BrokerFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = tmp_path / "auth"
    files.mkdir()
    add_user(files, SITE, "s01", password="pw-s01")
    add_user(files, SITE, "s02", password="pw-s02")
    add_user(files, "--server", "server", password="pw-server")
    broker = broker_factory(password_file=files / "passwd", acl_file=files / "acl")

    async def scenario() -> tuple[Watcher, Any, Outbox]:
        watcher = Watcher(broker, username="server", password="pw-server")
        await watcher.start()
        outbox = Outbox(tmp_path / "o.sqlite", MIB)
        enqueue_heartbeats(outbox, "s01", 1)
        # A row of s01 that claims s02's topic: the broker must refuse it.
        outbox.enqueue("s01", heartbeat_topic("s02"), heartbeat_builder("s02", 99.0))
        enqueue_heartbeats(outbox, "s01", 1, start=1)
        settings = settings_for(broker, username="park.s01", password="pw-s01")
        link = SensorLink(settings, SITE, "s01", outbox, None, clock)
        async with running(link):
            await watcher.wait_for(lambda: outbox.depth() == 0)
        await watcher.wait_for(lambda: len(watcher.messages("status")) == 2, timeout=5)
        await watcher.stop()
        return watcher, link.stats, outbox

    with caplog.at_level(logging.ERROR, logger="noisefleet_edge"):
        watcher, stats, outbox = asyncio.run(scenario())
    with outbox:
        assert [m.envelope.sequence for m in watcher.messages("heartbeat")] == [1, 3]
        assert watcher.messages("heartbeat", "s02") == [], "the ACL let a forged message through"
        assert (stats.published, stats.refused) == (2, 1)
        assert (outbox.dead_lettered("s01"), outbox.depth()) == (1, 0)
    refusals = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(refusals) == 1
    assert re.search(r"sequence 2 on noisefleet/v1/park/s02/heartbeat.*0x87", refusals[0])


@pytest.mark.integration
def test_a_wrong_password_is_one_clear_line_and_retried(
    broker_factory: BrokerFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = broker_factory(users={"park.s01": "right"})

    async def scenario() -> Any:
        with Outbox(tmp_path / "o.sqlite", MIB) as outbox:
            enqueue_heartbeats(outbox, "s01", 1)
            settings = settings_for(broker, username="park.s01", password="wrong")
            link = SensorLink(settings, SITE, "s01", outbox, None, clock)
            async with running(link):
                await asyncio.sleep(0.6)
            assert outbox.depth() == 1, "nothing is lost while refused"
            return link.stats

    with caplog.at_level(logging.DEBUG):
        stats = asyncio.run(scenario())
    assert stats.connects == 0
    assert stats.last_error is not None
    refused = [r for r in caplog.records if "refused user 'park.s01'" in r.getMessage()]
    assert len(refused) >= 2, "retried"
    assert refused[0].levelno == logging.WARNING
    assert "check the sensor's username and password" in refused[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"
    assert all("wrong" not in r.getMessage() for r in caplog.records), "no password in logs"


@pytest.mark.integration
def test_tls_with_the_generated_ca_and_client_certificate(
    broker_factory: BrokerFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = broker_factory(tls=True)
    assert broker.tls_port is not None
    certs = broker.certs

    async def scenario() -> tuple[Any, Any]:
        watcher = Watcher(broker)
        await watcher.start()
        with Outbox(tmp_path / "o.sqlite", MIB) as outbox:
            enqueue_heartbeats(outbox, "s01", 3)
            good = settings_for(
                broker, port=broker.tls_port, tls=True, ca_file=certs["ca"],
                cert_file=certs["client_cert"], key_file=certs["client_key"],
            )  # fmt: skip
            link = SensorLink(good, SITE, "s01", outbox, None, clock)
            async with running(link):
                await watcher.wait_for(lambda: len(watcher.messages("heartbeat")) == 3)
            # The client certificate's CA is not the server's: verification must fail.
            bad = replace(good, ca_file=certs["client_cert"])
            rejected = SensorLink(bad, SITE, "s01", outbox, None, clock)
            async with running(rejected):
                await asyncio.sleep(0.3)
        await watcher.stop()
        return link.stats, rejected.stats

    with caplog.at_level(logging.WARNING, logger="noisefleet_edge"):
        good_stats, bad_stats = asyncio.run(scenario())
    assert (good_stats.connects, good_stats.published) == (1, 3)
    assert bad_stats.connects == 0
    assert bad_stats.last_error is not None
    assert "TLS with the broker" in bad_stats.last_error
    assert "CERTIFICATE_VERIFY_FAILED" in bad_stats.last_error
    assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.integration
def test_the_production_config_runs_with_tls_and_the_deploy_users(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    files = tmp_path / "auth"
    files.mkdir()
    add_user(files, SITE, "s01", password="pw-s01")
    probe = broker_factory(tls=True)  # for its certificates and a free port
    probe.stop()
    assert probe.tls_port is not None
    text = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    swaps = {
        "listener 8883": f"listener {probe.tls_port} 127.0.0.1",
        "/etc/mosquitto/certs/ca.crt": str(probe.certs["ca"]),
        "/etc/mosquitto/certs/server.crt": str(probe.certs["server_cert"]),
        "/etc/mosquitto/certs/server.key": str(probe.certs["server_key"]),
        "/etc/mosquitto/passwd": str(files / "passwd"),
        "/etc/mosquitto/acl": str(files / "acl"),
        "/var/lib/mosquitto/": f"{probe.workdir}/",
        "log_dest stderr": f"log_dest file {probe.log_path}\nuser root",
    }
    for old, new in swaps.items():
        assert old in text, old
        text = text.replace(old, new)
    probe.config_path.write_text(text)
    probe.port = probe.tls_port  # the only listener
    probe.start()

    async def scenario() -> Any:
        with Outbox(tmp_path / "o.sqlite", MIB) as outbox:
            enqueue_heartbeats(outbox, "s01", 2)
            settings = settings_for(
                probe, port=probe.tls_port, tls=True, ca_file=probe.certs["ca"],
                username="park.s01", password="pw-s01",
                hold_unrouted=False,  # nobody reads these heartbeats: sent to nobody is sent
            )  # fmt: skip
            link = SensorLink(settings, SITE, "s01", outbox, None, clock)
            async with running(link):
                async with asyncio.timeout(10):
                    while outbox.depth():
                        await asyncio.sleep(0.02)
            return link.stats

    stats = asyncio.run(scenario())
    assert (stats.connects, stats.published, stats.refused) == (1, 2, 0)


@pytest.mark.integration
def test_a_full_disk_while_marking_rows_sent_keeps_the_link_up(
    broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14 (defect 8): an OutboxError from the outbox no longer ends the link."""
    from noisefleet_edge.agent.outbox import OutboxError

    async def scenario() -> None:
        watcher = Watcher(broker)
        await watcher.start()
        with Outbox(tmp_path / "o.sqlite", MIB) as outbox:
            enqueue_heartbeats(outbox, "s01", 3)
            real = outbox.mark_sent
            failures = [OutboxError("database or disk is full")]

            def mark_sent(ids: Any) -> None:
                if failures:
                    raise failures.pop()
                real(ids)

            outbox.mark_sent = mark_sent  # type: ignore[method-assign]
            link = SensorLink(settings_for(broker), SITE, "s01", outbox, None, clock)
            async with running(link):
                await watcher.wait_for(lambda: len(watcher.messages("heartbeat")) >= 3)
                await asyncio.to_thread(enqueue_heartbeats, outbox, "s01", 2, 100)
                link.notify()
                await watcher.wait_for(lambda: len(watcher.messages("heartbeat")) >= 5)
                assert not failures
        await watcher.stop()

    asyncio.run(scenario())
    assert any("cannot mark" in r.getMessage() for r in caplog.records)
