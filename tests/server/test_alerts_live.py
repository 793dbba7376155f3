"""Alerts end to end with real components: contract messages → mosquitto → ``noisefleet-server
run`` (ingest, alert engine, delivery worker) → PostgreSQL → a signed webhook POST and an MQTT
notification; the receiver down (retried, delivered once when back), a restart with a queued
notification (delivered once), and late data (notified late, never as live)."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.server.alert_harness import minutes_of_records
from tests.server.conftest import ServerProcess
from tests.server.helpers import Publisher, event_record, events_payload, wait_for
from tests.server.notify_support import SECRET, Subscriber, WebhookReceiver, decoded
from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SITE, SENSOR = "tower", "roof"

RULES = """
[[rules]]
id = "loud-minute"
kind = "level"
metric = "laeq"
window_s = 60
limit_db = 70.0
release_s = 60

[[rules]]
id = "siren"
kind = "event"
labels = ["siren"]
min_confidence = 0.5
"""


def _config(tmp_path: Path, hook: WebhookReceiver) -> Path:
    (tmp_path / "rules.toml").write_text(RULES)
    (tmp_path / "hook-secret").write_text(SECRET)
    config = tmp_path / "server.toml"
    config.write_text(
        f"""
[alerts]
rules_file = "rules.toml"
interval_s = 0.2

[notify]
interval_s = 0.5

[notifiers.ops]
kind = "webhook"
url = "{hook.url}"
secret_file = "hook-secret"
first_backoff_s = 0.2
max_backoff_s = 1.0

[notifiers.bus]
kind = "mqtt"
"""
    )
    return config


def _bodies(hook: WebhookReceiver, status_ok: bool = True) -> list[dict[str, Any]]:
    return [decoded(p.body) for p in list(hook.posts) if (200 <= p.status < 300) or not status_ok]


def _minute_now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def test_level_and_event_alerts_reach_a_signed_webhook_and_mqtt(
    start_server: Any,
    publisher: Publisher,
    broker: Mosquitto,
    db: psycopg.Connection,
    tmp_path: Path,
) -> None:
    hook = WebhookReceiver().start()
    bus = Subscriber(broker.host, broker.port, "noisefleet/v1/alerts/#")
    try:
        db.execute(
            "INSERT INTO noisefleet_store.sites (site, kind, timezone)"
            " VALUES (%s, 'real_estate', 'Europe/Berlin')",
            (SITE,),
        )
        server: ServerProcess = start_server(args=("--config", str(_config(tmp_path, hook))))
        start = _minute_now() - timedelta(minutes=3)
        levels = [60.0] * 60 + [76.0] * 60 + [60.0] * 60
        for topic_text, payload in minutes_of_records(start, levels, SITE, SENSOR):
            publisher.publish(topic_text, payload)
        siren = event_record("ev-1", "siren", start + timedelta(seconds=150), 12.0)
        publisher.publish(*events_payload(SITE, SENSOR, 50, [siren]))

        def events() -> set[tuple[str, str]]:
            return {(b["rule_id"], b["event"]) for b in _bodies(hook)}

        wait_for(
            lambda: {("loud-minute", "firing"), ("siren", "firing")} <= events(),
            timeout_s=30,
            what=f"firing notifications (log {server.log_path})",
        )
        posts = [p for p in hook.posts if 200 <= p.status < 300]
        assert all(p.signed for p in posts)
        assert all(p.headers["content-type"] == "application/json" for p in posts)
        loud = next(b for b in _bodies(hook) if b["rule_id"] == "loud-minute")
        assert loud["late"] is False
        assert loud["fired_at"] == (start + timedelta(minutes=2)).isoformat().replace(
            "+00:00", ".000Z"
        )
        assert loud["peak"] == pytest.approx(76.0)
        assert "tower/roof" in loud["message"]
        # the same notifications went to the MQTT topic of the sensor
        wait_for(lambda: len(bus.messages) >= 2, timeout_s=15, what="MQTT notifications")
        topics = {t for t, _ in bus.messages}
        assert topics == {f"noisefleet/v1/alerts/{SITE}/{SENSOR}"}
        rule_ids = {json.loads(m)["rule_id"] for _, m in bus.messages}
        assert rule_ids == {"loud-minute", "siren"}
        # every notification once: no duplicates by id
        ids = [p.notification_id for p in posts]
        assert len(ids) == len(set(ids))
    finally:
        bus.close()
        hook.stop()


def test_receiver_down_restart_and_late_data(
    start_server: Any,
    publisher: Publisher,
    db: psycopg.Connection,
    tmp_path: Path,
) -> None:
    hook = WebhookReceiver(default=503)  # answering, but refusing everything
    hook.start()
    try:
        db.execute(
            "INSERT INTO noisefleet_store.sites (site, kind, timezone) VALUES (%s, 'city', 'UTC')",
            (SITE,),
        )
        config = _config(tmp_path, hook)
        server: ServerProcess = start_server(args=("--config", str(config)))
        start = _minute_now() - timedelta(minutes=3)
        levels = [60.0] * 60 + [76.0] * 60 + [60.0] * 60
        for topic_text, payload in minutes_of_records(start, levels, SITE, SENSOR):
            publisher.publish(topic_text, payload)
        wait_for(lambda: len(hook.posts) >= 2, timeout_s=30, what="retried POSTs")
        # stop the server while the notification is still queued (the receiver refuses)
        assert server.stop(signal.SIGTERM) == 0
        queued = db.execute(
            "SELECT notification_id::text FROM noisefleet_store.notifications"
            " WHERE notifier = 'ops' AND state <> 'delivered'"
        ).fetchall()
        assert len(queued) == 1
        hook.default = 200
        server.start()
        wait_for(
            lambda: hook.delivered(queued[0][0]) == 1,
            timeout_s=30,
            what="the queued notification after the restart",
        )
        # late data: a loud minute two hours ago, replayed after an outage
        old = _minute_now() - timedelta(hours=2)
        late = minutes_of_records(old, [60.0] * 60 + [78.0] * 60 + [60.0] * 120, SITE, SENSOR, 100)
        for topic_text, payload in late:
            publisher.publish(topic_text, payload)

        def late_bodies() -> list[dict[str, Any]]:
            return [b for b in _bodies(hook) if b["peak"] == pytest.approx(78.0)]

        found = wait_for(late_bodies, timeout_s=30, what="the late alert's notifications")
        assert all(b["late"] is True for b in found)
        assert all("late" in b["message"] for b in found)
        wait_for(lambda: len(late_bodies()) == 2, timeout_s=30, what="firing and resolved")
        assert {b["event"] for b in late_bodies()} == {"firing", "resolved"}
        row = db.execute(
            "SELECT late FROM noisefleet.alerts WHERE peak > 77 AND rule_id = 'loud-minute'"
        ).fetchone()
        assert row == (True,)
        # the first alert's notification was delivered exactly once in all this
        assert hook.delivered(queued[0][0]) == 1
    finally:
        hook.stop()
