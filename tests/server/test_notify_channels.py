"""MQTT and e-mail notifications, and ``noisefleet-server run`` delivering what was queued
before its restart, against the suite's real PostgreSQL and mosquitto."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from noisefleet_server.notify.config import EmailSettings, MqttNotifierSettings
from tests.server.conftest import SERVER
from tests.server.helpers import wait_for
from tests.server.notify_support import (
    FAST,
    SECRET,
    SmtpServer,
    Subscriber,
    WebhookReceiver,
    alert_payload,
    decoded,
    enqueue,
    make_config,
    row,
    running,
    until,
)
from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


def test_mqtt_notifications_arrive_on_the_alert_topic(
    database_url: str, db: psycopg.Connection, broker: Mosquitto
) -> None:
    subscriber = Subscriber(broker.host, broker.port, "noisefleet/v1/alerts/#")
    config = make_config(database_url, [MqttNotifierSettings(name="bus", **FAST)], broker=broker)

    async def scenario() -> uuid.UUID:
        async with running(config):
            [notification_id] = await enqueue(database_url, ["bus"], alert_payload())
            await until(lambda: row(db, notification_id)["state"] == "delivered")
            await until(lambda: subscriber.messages, what="the MQTT message")
        return notification_id

    try:
        notification_id = asyncio.run(scenario())
    finally:
        subscriber.close()
    [(topic_text, payload)] = subscriber.messages
    assert topic_text == "noisefleet/v1/alerts/tower-a/roof"
    stored = db.execute(
        "SELECT body FROM noisefleet_store.notifications WHERE notification_id = %s",
        (notification_id,),
    ).fetchone()
    assert stored is not None
    assert payload == stored[0].encode()


def test_mqtt_broker_down_is_retried_until_it_is_back(
    database_url: str, db: psycopg.Connection, broker: Mosquitto
) -> None:
    broker.stop()
    config = make_config(database_url, [MqttNotifierSettings(name="bus", **FAST)], broker=broker)

    async def scenario() -> uuid.UUID:
        async with running(config):
            [notification_id] = await enqueue(database_url, ["bus"], alert_payload())
            await until(lambda: row(db, notification_id)["attempts"] >= 1, timeout_s=20)
            assert row(db, notification_id)["state"] != "delivered"
            broker.start()
            await until(lambda: row(db, notification_id)["state"] == "delivered", timeout_s=20)
        return notification_id

    asyncio.run(scenario())


def test_email_arrives_with_subject_text_and_json(
    database_url: str, db: psycopg.Connection
) -> None:
    smtp = SmtpServer()  # down first: retried
    mail = EmailSettings(
        name="mail",
        host="127.0.0.1",
        port=smtp.port,
        sender="noisefleet@example.org",
        to=("ops@example.org", "caretaker@example.org"),
        **FAST,
    )
    config = make_config(database_url, [mail])

    async def scenario() -> list[uuid.UUID]:
        async with running(config):
            [first] = await enqueue(database_url, ["mail"], alert_payload())
            await until(lambda: row(db, first)["attempts"] >= 1, what="a refused connection")
            smtp.start()
            await until(lambda: row(db, first)["state"] == "delivered")
            smtp.answers.append("550 5.1.1 mailbox unavailable")
            [refused] = await enqueue(database_url, ["mail"], alert_payload(alert_id=18))
            await until(lambda: row(db, refused)["state"] == "failed")
        return [first, refused]

    try:
        first, refused = asyncio.run(scenario())
    finally:
        smtp.stop()
    [(recipients, message)] = smtp.mails
    assert recipients == ["ops@example.org", "caretaker@example.org"]
    assert message["Subject"] == (
        "[noisefleet] firing: tower-a/roof: LAeq,15min 71.3 dB(A) above the limit 70 dB since 23:41"
    )
    assert message["Message-ID"] == f"<{first}@noisefleet>"
    assert message["X-Noisefleet-Notification-Id"] == str(first)
    text = message.get_body(("plain",))
    assert text is not None
    content = text.get_content()
    assert "sensor: tower-a/roof" in content
    assert "value: 71.3" in content
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "notification.json"
    assert decoded(attachment.get_content())["notification_id"] == str(first)
    assert (
        row(db, refused)["last_error"]
        == f"127.0.0.1:{smtp.port} answered 550 5.1.1 mailbox unavailable"
    )


def test_the_server_delivers_what_was_queued_before_its_restart(
    database_url: str, broker: Mosquitto, db: psycopg.Connection, tmp_path: Path
) -> None:
    receiver = WebhookReceiver()
    (tmp_path / "ops.secret").write_text(SECRET + "\n")
    config_file = tmp_path / "server.toml"
    config_file.write_text(
        "[notify]\ninterval_s = 0.5\n\n"
        f'[notifiers.ops]\nkind = "webhook"\nurl = "{receiver.url}"\n'
        'secret_file = "ops.secret"\nfirst_backoff_s = 0.05\nmax_backoff_s = 0.2\n'
    )
    env = {
        **os.environ,
        "NOISEFLEET_DATABASE_URL": database_url,
        "NOISEFLEET_MQTT_URL": f"mqtt://{broker.host}:{broker.port}",
        "NOISEFLEET_MQTT_CLIENT_ID": "worker-1",
    }
    log_path = tmp_path / "server.log"

    def start() -> subprocess.Popen[bytes]:
        before = log_path.read_text().count("ingest connected") if log_path.exists() else 0
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [*SERVER, "--config", str(config_file), "run"], env=env, stdout=log, stderr=log
            )
        wait_for(lambda: log_path.read_text().count("ingest connected") > before, what="server")
        return process

    [queued] = asyncio.run(enqueue(database_url, ["ops"], alert_payload()))
    process = start()
    try:
        wait_for(lambda: row(db, queued)["attempts"] >= 1, what="an attempt, receiver down")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert row(db, queued)["state"] == "queued"
        receiver.start()
        [second] = asyncio.run(enqueue(database_url, ["ops"], alert_payload(alert_id=18)))
        process = start()
        wait_for(lambda: row(db, queued)["state"] == "delivered", what="delivery after restart")
        wait_for(lambda: row(db, second)["state"] == "delivered", what="the second one")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        receiver.stop()
    assert receiver.delivered(queued) == 1
    assert receiver.delivered(second) == 1
    assert "notifications stopped" in log_path.read_text()
