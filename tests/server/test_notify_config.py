"""Notifier configuration (one-line errors naming the key) and the pure parts of delivery:
the signature, the back-off, the mail and the MQTT topic."""

from __future__ import annotations

import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from noisefleet_server.config import load_config
from noisefleet_server.errors import ConfigError
from noisefleet_server.notify.broker import notification_topic
from noisefleet_server.notify.config import (
    EmailSettings,
    MqttNotifierSettings,
    NotifySettings,
    WebhookSettings,
    parse_notifiers,
)
from noisefleet_server.notify.deliver import Retry, webhook_headers
from noisefleet_server.notify.mail import build_message
from noisefleet_server.notify.queue_sql import Claimed, serialise
from noisefleet_server.notify.signing import sign, verify
from noisefleet_server.notify.worker import retry_delay

SECRET = "s3cret-s3cret-s3cret"
ENV = {"NOISEFLEET_NOTIFIERS_OPS_SECRET": SECRET}


def hook(**keys: Any) -> dict[str, Any]:
    return {"ops": {"kind": "webhook", "url": "https://hooks.example.org/noise", **keys}}


def parse(table: dict[str, Any], env: dict[str, str] | None = None, base: Path | None = None):
    return parse_notifiers(table, base, ENV if env is None else env)


def test_a_webhook_with_its_defaults() -> None:
    [ops] = parse(hook())
    assert ops == WebhookSettings(name="ops", url="https://hooks.example.org/noise", secret=SECRET)
    assert (ops.timeout_s, ops.first_backoff_s, ops.max_backoff_s) == (10.0, 1.0, 300.0)
    assert ops.give_up_after_s == 86400.0
    assert SECRET not in repr(ops)


def test_the_secret_from_a_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "hook.secret").write_text(SECRET + "\n")
    [ops] = parse(hook(secret_file="hook.secret"), env={}, base=tmp_path)
    assert isinstance(ops, WebhookSettings)
    assert ops.secret == SECRET


def test_every_notifier_kind_and_the_environment_overlay() -> None:
    table = {
        **hook(headers={"Authorization": "Bearer abc"}),
        "bus": {"kind": "mqtt", "topic_prefix": "site/alerts"},
        "mail-desk": {
            "kind": "email",
            "host": "smtp.example.org",
            "port": 587,
            "starttls": True,
            "from": "noise@example.org",
            "to": ["desk@example.org"],
            "username": "noise",
        },
    }
    env = {
        **ENV,
        "NOISEFLEET_NOTIFIERS_MAIL_DESK_PASSWORD": "pw",
        "NOISEFLEET_NOTIFIERS_MAIL_DESK_TO": "a@example.org, b@example.org",
        "NOISEFLEET_NOTIFIERS_BUS_TIMEOUT_S": "2.5",
    }
    ops, bus, mail = parse(table, env)
    assert isinstance(ops, WebhookSettings)
    assert ops.headers == (("Authorization", "Bearer abc"),)
    assert bus == MqttNotifierSettings(name="bus", topic_prefix="site/alerts", timeout_s=2.5)
    assert mail == EmailSettings(
        name="mail-desk",
        host="smtp.example.org",
        port=587,
        starttls=True,
        sender="noise@example.org",
        to=("a@example.org", "b@example.org"),
        username="noise",
        password="pw",
    )


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        (hook(secret="x" * 20), ENV, "notifiers.ops.secret: do not put the secret in the file; "
         "use secret_file or NOISEFLEET_NOTIFIERS_OPS_SECRET"),
        (hook(), {}, "notifiers.ops: no secret; set secret_file or NOISEFLEET_NOTIFIERS_OPS_"),
        (hook(), {"NOISEFLEET_NOTIFIERS_OPS_SECRET": "short"}, "notifiers.ops.secret: too short"),
        (hook(url="ftp://x/y"), ENV, "notifiers.ops.url: must be an http:// or https:// URL"),
        (hook(url="https://u:p@x/y"), ENV, "notifiers.ops.url: no credentials in the URL"),
        (hook(timeout_s=0), ENV, "notifiers.ops.timeout_s: must be greater than 0, got 0"),
        (hook(timeout_s="10"), ENV, "notifiers.ops.timeout_s: expected float, got str"),
        (hook(retries=3), ENV, "notifiers.ops: unknown key(s) retries (known: "),
        (hook(max_backoff_s=0.5), ENV, "notifiers.ops.max_backoff_s: must not be less than"),
        (hook(headers={"X-Noisefleet-Event": "x"}), ENV, "notifiers.ops.headers.X-Noisefleet-"),
        (hook(headers={"A": "x\ny"}), ENV, "notifiers.ops.headers.A: must be a one-line string"),
        ({"ops": {"kind": "pager"}}, ENV, "notifiers.ops.kind: one of webhook, mqtt, email"),
        ({"Ops!": {"kind": "mqtt"}}, ENV, "notifiers.Ops!: a name of a-z, 0-9"),
        ({"ops": "webhook"}, ENV, "notifiers.ops: must be a table"),
        ({"a-b": {"kind": "mqtt"}, "a_b": {"kind": "mqtt"}}, ENV, "notifiers.a_b: clashes with"),
        ({"bus": {"kind": "mqtt", "qos": 2}}, ENV, "notifiers.bus.qos: only 1"),
        ({"bus": {"kind": "mqtt", "topic_prefix": "a/#"}}, ENV, "notifiers.bus.topic_prefix: "),
        ({"m": {"kind": "email", "from": "a@b.c", "to": ["d@e.f"]}}, ENV, "notifiers.m.host: "
         "required for a email notifier"),
        ({"m": {"kind": "email", "host": "h", "to": ["d@e.f"]}}, ENV, "notifiers.m.from: required"),
        ({"m": {"kind": "email", "host": "h", "from": "a@b.c", "to": ["x"]}}, ENV,
         "notifiers.m.to: not an e-mail address: 'x'"),
        ({"m": {"kind": "email", "host": "h", "from": "a@b.c", "to": ["d@e.f"],
                "password": "pw"}}, ENV, "notifiers.m.password: do not put the password"),
        ({"m": {"kind": "email", "host": "h", "from": "a@b.c", "to": ["d@e.f"],
                "username": "u"}}, ENV, "notifiers.m: username and password go together"),
        ({"m": {"kind": "email", "host": "h", "from": "a@b.c", "to": ["d@e.f"], "ssl": True,
                "starttls": True}}, ENV, "notifiers.m: starttls and ssl exclude each other"),
    ],
)  # fmt: skip
def test_config_errors_are_one_line_naming_the_key(
    table: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(table, env)
    text = str(raised.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert SECRET not in text


def test_load_config_reads_notifiers_and_the_notify_section(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text(
        '[database]\nurl = "postgresql://noisefleet@db/noisefleet"\n\n'
        "[notify]\ninterval_s = 2\n\n"
        '[notifiers.ops]\nkind = "webhook"\nurl = "http://127.0.0.1:8080/hook"\n\n'
        '[notifiers.bus]\nkind = "mqtt"\n'
    )
    config = load_config(path, {**ENV, "NOISEFLEET_NOTIFY_BATCH": "10"})
    assert config.notify == NotifySettings(interval_s=2.0, batch=10)
    assert [n.name for n in config.notifiers] == ["ops", "bus"]
    assert load_config(None, {"NOISEFLEET_DATABASE_URL": "postgresql://x@y/z"}).notifiers == ()
    with pytest.raises(ConfigError, match=r"^notify.batch: must be greater than 0, got 0$"):
        load_config(path, {**ENV, "NOISEFLEET_NOTIFY_BATCH": "0"})


# -- the pure parts ----------------------------------------------------------------------------


def test_sign_and_verify() -> None:
    body = b'{"event":"firing"}'
    signature = sign("key", 1700000000, body)
    expected = hmac.new(b"key", b'1700000000.{"event":"firing"}', "sha256").hexdigest()
    assert signature == f"sha256={expected}"
    assert verify("key", "1700000000", body, signature, now=1700000100)
    assert not verify("key", "1700000000", body + b" ", signature, now=1700000100)
    assert not verify("other", "1700000000", body, signature, now=1700000100)
    assert not verify("key", "1700000000", body, signature, now=1700000301)  # too old: a replay
    assert not verify("key", "soon", body, signature, now=1700000000)


def _claimed(body: str, event: str = "firing") -> Claimed:
    return Claimed(1, uuid.UUID(int=5), "ops", event, "tower-a", "roof", body, 1, "queued")


def test_the_webhook_headers_sign_this_attempt() -> None:
    [ops] = parse(hook(headers={"Authorization": "Bearer abc"}))
    assert isinstance(ops, WebhookSettings)
    body = b"{}"
    headers = dict(webhook_headers(ops, _claimed("{}"), body, 1700000000))
    assert headers["X-Noisefleet-Signature"] == sign(SECRET, 1700000000, body)
    assert headers["X-Noisefleet-Timestamp"] == "1700000000"
    assert headers["X-Noisefleet-Notification-Id"] == str(uuid.UUID(int=5))
    assert headers["X-Noisefleet-Event"] == "firing"
    assert headers["Authorization"] == "Bearer abc"


def test_the_back_off_doubles_to_its_ceiling_and_honours_retry_after() -> None:
    [ops] = parse(hook(first_backoff_s=1.0, max_backoff_s=8.0))
    delays = [retry_delay(ops, n, Retry("503"), jitter=1.0) for n in range(1, 7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert retry_delay(ops, 1, Retry("503"), jitter=0.0) == 0.5
    assert retry_delay(ops, 1, Retry("429", after_s=5.0), jitter=0.0) == 5.0
    assert retry_delay(ops, 1, Retry("429", after_s=3600.0), jitter=0.0) == 8.0


def test_the_body_is_serialised_once_with_sorted_keys() -> None:
    sent_at = datetime(2026, 11, 24, 23, 41, 5, tzinfo=UTC)
    body = serialise({"event": "firing", "alert_id": 3, "value": 71.25}, uuid.UUID(int=1), sent_at)
    assert body == (
        '{"alert_id":3,"event":"firing","notification_id":"00000000-0000-0000-0000-000000000001",'
        '"schema":1,"sent_at":"2026-11-24T23:41:05.000Z","value":71.25}'
    )


def test_the_mail_and_the_topic() -> None:
    body = json.dumps(
        {"event": "resolved", "message": "tower-a/roof: back below\n70 dB", "site": "tower-a",
         "sensor": "roof", "value": 68.0, "alert_id": 3, "ended_at": None}
    )  # fmt: skip
    mail_settings = EmailSettings(
        name="m", host="h", sender="noise@example.org", to=("a@example.org", "b@example.org")
    )
    mail = build_message(mail_settings, _claimed(body, "resolved"))
    assert mail["Subject"] == "[noisefleet] resolved: tower-a/roof: back below 70 dB"
    assert mail["To"] == "a@example.org, b@example.org"
    text = mail.get_body(("plain",))
    assert text is not None
    assert "alert id: 3" in text.get_content()
    assert "ended at" not in text.get_content()  # null fields are left out
    bus = MqttNotifierSettings(name="bus")
    assert notification_topic(bus, _claimed(body)) == "noisefleet/v1/alerts/tower-a/roof"


def test_the_receivers_example_in_the_docs_agrees_with_sign() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"
    [example] = [
        block.split("\n", 1)[1]
        for block in docs.read_text().split("```")
        if block.startswith("python\n")
    ]
    scope: dict[str, Any] = {}
    exec(compile(example, str(docs), "exec"), scope)
    verify_noisefleet = scope["verify_noisefleet"]
    body = b'{"event":"firing"}'
    now = int(time.time())
    headers = {
        "X-Noisefleet-Timestamp": str(now),
        "X-Noisefleet-Signature": sign(SECRET, now, body),
    }
    assert verify_noisefleet(SECRET.encode(), headers, body)
    assert not verify_noisefleet(b"another-secret-entirely", headers, body)
    old = {"X-Noisefleet-Timestamp": "1000", "X-Noisefleet-Signature": sign(SECRET, 1000, body)}
    assert not verify_noisefleet(SECRET.encode(), old, body)
