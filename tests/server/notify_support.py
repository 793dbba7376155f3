"""Support of the notification tests: a webhook receiver (http.server in a thread) that
checks every POST's signature and headers and answers as scripted, an SMTP server (aiosmtpd),
an MQTT subscriber (paho), the alert payload the engine would queue, and in-process delivery
workers on the test's database."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar, cast

import paho.mqtt.client as paho
import psycopg
from aiosmtpd.controller import Controller
from paho.mqtt.enums import CallbackAPIVersion

from noisefleet_server.config import DatabaseSettings, MqttSettings, ServerConfig
from noisefleet_server.notify import queue_sql
from noisefleet_server.notify.config import NotifierSettings, NotifySettings, WebhookSettings
from noisefleet_server.notify.signing import verify
from noisefleet_server.notify.worker import DeliveryWorker
from noisefleet_server.service import make_pool
from tests.support.mosquitto import Mosquitto, free_port

SECRET = "test-secret-0123456789abcdef"
T = TypeVar("T")


def alert_payload(alert_id: int = 17, event: str = "firing", **extra: Any) -> dict[str, Any]:
    """A §6 notification as the alert engine passes it to ``enqueue``."""
    return {
        "alert_id": alert_id,
        "event": event,
        "late": False,
        "rule_id": "quiet-hours",
        "rule_name": "Quiet hours",
        "kind": "level",
        "severity": "warning",
        "site": "tower-a",
        "sensor": "roof",
        "tier": "limit",
        "value": 71.3,
        "limit": 70.0,
        "peak": 74.0,
        "peak_at": datetime(2026, 11, 24, 23, 55, tzinfo=UTC),
        "pending_since": datetime(2026, 11, 24, 23, 26, tzinfo=UTC),
        "fired_at": datetime(2026, 11, 24, 23, 41, tzinfo=UTC),
        "ended_at": None,
        "resolved_at": None,
        "message": "tower-a/roof: LAeq,15min 71.3 dB(A) above the limit 70 dB since 23:41",
        **extra,
    }


async def until(condition: Callable[[], T], timeout_s: float = 15.0, what: str = "it") -> T:
    """Poll ``condition`` until it is truthy (with a deadline), yielding to the event loop."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    signed: bool
    """The signature verified with SECRET and the timestamp is current."""

    @property
    def notification_id(self) -> str:
        return self.headers.get("x-noisefleet-notification-id", "")


@dataclass
class WebhookReceiver:
    """``answers``: statuses for the next POSTs, in order (then ``default``); ``mode`` one of
    ``answer``, ``hang`` (never answers until stopped), ``huge`` (a 500 with an endless body),
    ``redirect`` (307 to ``location``)."""

    port: int = field(default_factory=free_port)
    answers: list[int] = field(default_factory=list)
    default: int = 200
    mode: str = "answer"
    location: str = ""
    posts: list[Post] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _released: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.handle(self, body)

        self._released.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        signed = verify(
            SECRET,
            headers.get("x-noisefleet-timestamp", ""),
            body,
            headers.get("x-noisefleet-signature", ""),
            now=time.time(),
        )
        if self.mode == "hang":
            self._released.wait(30)
            return
        status = self.answers.pop(0) if self.answers else self.default
        if self.mode == "redirect" and request.path != "/moved":
            status = 307
        self.posts.append(Post(request.path, headers, body, status, signed))
        request.send_response(status)
        if status == 307:
            request.send_header("Location", self.location)
        if self.mode == "huge":
            request.send_header("Content-Length", str(1 << 30))
            request.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range((1 << 30) // len(chunk)):
                    request.wfile.write(chunk)
            except OSError:
                pass  # the client read what it wanted and closed
            return
        answer = b"ok" if status < 300 else b"not now"
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        request.wfile.write(answer)

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self, notification_id: object) -> int:
        """POSTs of that notification answered 2xx."""
        return sum(
            1
            for p in list(self.posts)
            if p.notification_id == str(notification_id) and 200 <= p.status < 300
        )


class _MailHandler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        if self.server.answers:
            return self.server.answers.pop(0)
        mail = cast(EmailMessage, message_from_bytes(envelope.content, policy=policy.default))
        self.server.mails.append((list(envelope.rcpt_tos), mail))
        return "250 OK"


class SmtpServer:
    """aiosmtpd in its own thread; ``answers``: SMTP replies for the next mails (then 250)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.answers: list[str] = []
        self.mails: list[tuple[list[str], EmailMessage]] = []
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class Subscriber:
    """A paho client collecting (topic, payload) of everything under ``pattern``."""

    def __init__(self, host: str, port: int, pattern: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(pattern, qos=1)
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "no SUBACK"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def decoded(body: bytes) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(body))


FAST = {"first_backoff_s": 0.05, "max_backoff_s": 0.2, "timeout_s": 2.0}


def webhook(name: str, url: str, **settings: Any) -> WebhookSettings:
    return WebhookSettings(name=name, url=url, secret=SECRET, **{**FAST, **settings})


def make_config(
    database_url: str,
    notifiers: Sequence[NotifierSettings],
    broker: Mosquitto | None = None,
    **notify: Any,
) -> ServerConfig:
    mqtt = MqttSettings(reconnect_max_s=1.0)
    if broker is not None:
        mqtt = dataclasses.replace(mqtt, url=f"mqtt://{broker.host}:{broker.port}")
    return ServerConfig(
        database=DatabaseSettings(url=database_url),
        mqtt=mqtt,
        notify=NotifySettings(**{"interval_s": 0.5, "lease_margin_s": 5.0, **notify}),
        notifiers=tuple(notifiers),
    )


@contextlib.asynccontextmanager
async def running(config: ServerConfig, count: int = 1) -> AsyncIterator[list[DeliveryWorker]]:
    """``count`` workers (each with its own pool, like separate server processes)."""
    async with contextlib.AsyncExitStack() as stack:
        stop = asyncio.Event()
        workers, tasks = [], []
        for _ in range(count):
            pool = await stack.enter_async_context(make_pool(config))
            worker = DeliveryWorker(config, pool)
            workers.append(worker)
            tasks.append(asyncio.create_task(worker.run(stop)))
        await until(lambda: all(w.listening.is_set() for w in workers), what="LISTEN")
        try:
            yield workers
        finally:
            stop.set()
            await asyncio.gather(*tasks)


async def enqueue(
    database_url: str, names: Sequence[str], payload: Mapping[str, object]
) -> list[uuid.UUID]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn, conn.transaction():
        return await queue_sql.enqueue(conn, names, payload)


def row(db: psycopg.Connection, notification_id: uuid.UUID) -> dict[str, Any]:
    cursor = db.execute(
        "SELECT * FROM noisefleet.notifications WHERE notification_id = %s", (notification_id,)
    )
    names = [c.name for c in cursor.description or ()]
    found = cursor.fetchone()
    assert found is not None
    return dict(zip(names, found, strict=True))
