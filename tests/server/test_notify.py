"""Webhook notifications and the queue against the suite's real PostgreSQL: signed POSTs,
retries while the receiver is down, permanent refusals, giving up, per-alert order, restarts,
a dead worker's lease, concurrent workers, and receivers that hang, redirect or never stop
answering."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import psycopg
import pytest

from noisefleet_server.notify import queue_sql
from tests.server.notify_support import (
    WebhookReceiver,
    alert_payload,
    decoded,
    enqueue,
    make_config,
    row,
    running,
    until,
    webhook,
)

pytestmark = pytest.mark.integration


def test_a_signed_post_arrives_at_once_through_listen(
    database_url: str, db: psycopg.Connection
) -> None:
    receiver = WebhookReceiver().start()
    # The poll fallback is an hour: only the NOTIFY at commit can wake the worker.
    config = make_config(database_url, [webhook("ops", receiver.url)], interval_s=3600)

    async def scenario() -> uuid.UUID:
        async with running(config):
            [notification_id] = await enqueue(database_url, ["ops"], alert_payload())
            await until(lambda: receiver.delivered(notification_id), timeout_s=5, what="POST")
            await until(lambda: row(db, notification_id)["state"] == "delivered")
        return notification_id

    try:
        notification_id = asyncio.run(scenario())
    finally:
        receiver.stop()
    [post] = receiver.posts
    assert post.signed
    assert post.path == "/hook"
    assert post.headers["content-type"] == "application/json"
    assert post.headers["x-noisefleet-event"] == "firing"
    body = decoded(post.body)
    assert body["notification_id"] == str(notification_id)
    assert body["schema"] == 1
    assert body["fired_at"] == "2026-11-24T23:41:00.000Z"  # the wire contract's format
    assert body["value"] == 71.3
    stored = db.execute(
        "SELECT body FROM noisefleet_store.notifications WHERE notification_id = %s",
        (notification_id,),
    ).fetchone()
    assert stored is not None
    assert stored[0].encode() == post.body
    assert list(json.loads(post.body)) == sorted(json.loads(post.body))
    state = row(db, notification_id)
    assert (state["attempts"], state["alert_id"], state["site"]) == (1, 17, "tower-a")
    assert "body" not in state


def test_receiver_down_then_503_is_retried_and_delivered_once(
    database_url: str, db: psycopg.Connection
) -> None:
    receiver = WebhookReceiver(answers=[503, 503])  # not started: connection refused
    config = make_config(database_url, [webhook("ops", receiver.url)])

    async def scenario() -> uuid.UUID:
        async with running(config) as [worker]:
            [notification_id] = await enqueue(database_url, ["ops"], alert_payload())
            await until(lambda: row(db, notification_id)["attempts"] >= 2, what="2 refused")
            assert row(db, notification_id)["state"] in ("queued", "delivering")
            assert "connection refused" in (row(db, notification_id)["last_error"] or "")
            receiver.start()
            await until(lambda: row(db, notification_id)["state"] == "delivered")
            assert worker.counters.delivered == 1
        return notification_id

    try:
        notification_id = asyncio.run(scenario())
    finally:
        receiver.stop()
    assert [p.status for p in receiver.posts] == [503, 503, 200]
    assert receiver.delivered(notification_id) == 1
    assert all(p.signed for p in receiver.posts)
    assert len({p.notification_id for p in receiver.posts}) == 1  # the same id every time
    assert row(db, notification_id)["last_error"].startswith("127.0.0.1 answered HTTP 503")


def test_a_400_fails_at_once_and_is_not_retried(database_url: str, db: psycopg.Connection) -> None:
    receiver = WebhookReceiver(answers=[400]).start()
    config = make_config(database_url, [webhook("ops", receiver.url)])

    async def scenario() -> uuid.UUID:
        async with running(config):
            [notification_id] = await enqueue(database_url, ["ops"], alert_payload())
            await until(lambda: row(db, notification_id)["state"] == "failed")
            # a later notification still goes through: the failure was this one's
            [later] = await enqueue(database_url, ["ops"], alert_payload(alert_id=18))
            await until(lambda: row(db, later)["state"] == "delivered")
        return notification_id

    try:
        notification_id = asyncio.run(scenario())
    finally:
        receiver.stop()
    failed = row(db, notification_id)
    assert failed["attempts"] == 1
    assert (
        failed["last_error"] == "127.0.0.1 refused the notification: HTTP 400 Bad Request: not now"
    )
    assert [p.status for p in receiver.posts] == [400, 200]


def test_giving_up_after_give_up_after_s(database_url: str, db: psycopg.Connection) -> None:
    receiver = WebhookReceiver(default=503).start()
    config = make_config(database_url, [webhook("ops", receiver.url, give_up_after_s=0.5)])

    async def scenario() -> uuid.UUID:
        async with running(config):
            [notification_id] = await enqueue(database_url, ["ops"], alert_payload())
            await until(lambda: row(db, notification_id)["state"] == "failed")
        return notification_id

    try:
        notification_id = asyncio.run(scenario())
    finally:
        receiver.stop()
    failed = row(db, notification_id)
    assert failed["attempts"] >= 2
    assert failed["last_error"].startswith(f"gave up after {failed['attempts']} attempt(s): ")


def test_resolved_never_overtakes_its_firing(database_url: str, db: psycopg.Connection) -> None:
    receiver = WebhookReceiver(answers=[503]).start()
    config = make_config(database_url, [webhook("ops", receiver.url)])

    async def scenario() -> list[uuid.UUID]:
        async with running(config):
            connect = psycopg.AsyncConnection.connect(database_url)
            async with await connect as conn, conn.transaction():  # one alert change, 2 events
                firing = await queue_sql.enqueue(conn, ["ops"], alert_payload(alert_id=7))
                resolved = await queue_sql.enqueue(
                    conn, ["ops"], alert_payload(alert_id=7, event="resolved")
                )
            await until(lambda: row(db, resolved[0])["state"] == "delivered")
        return [*firing, *resolved]

    try:
        ids = asyncio.run(scenario())
    finally:
        receiver.stop()
    delivered = [p.notification_id for p in receiver.posts if p.status == 200]
    assert delivered == [str(i) for i in ids]
    assert [p.headers["x-noisefleet-event"] for p in receiver.posts] == [
        "firing",
        "firing",
        "resolved",
    ]


def test_a_stopped_worker_leaves_the_queue_to_the_next_one(
    database_url: str, db: psycopg.Connection
) -> None:
    receiver = WebhookReceiver()  # down while the first worker runs
    config = make_config(database_url, [webhook("ops", receiver.url, first_backoff_s=0.2)])

    async def scenario() -> uuid.UUID:
        [notification_id] = await enqueue(database_url, ["ops"], alert_payload())
        async with running(config):
            await until(lambda: row(db, notification_id)["attempts"] >= 1, what="an attempt")
        assert row(db, notification_id)["state"] == "queued"  # stopped: nothing in flight
        receiver.start()
        async with running(config) as [worker]:
            await until(lambda: row(db, notification_id)["state"] == "delivered")
            assert worker.counters.taken_over == 0
        return notification_id

    try:
        notification_id = asyncio.run(scenario())
    finally:
        receiver.stop()
    assert receiver.delivered(notification_id) == 1
    assert len(receiver.posts) == 1


def test_a_worker_that_died_mid_delivery_is_taken_over_after_its_lease(
    database_url: str, db: psycopg.Connection
) -> None:
    receiver = WebhookReceiver().start()
    config = make_config(
        database_url, [webhook("ops", receiver.url, timeout_s=0.3)], lease_margin_s=0.3
    )

    async def scenario() -> uuid.UUID:
        [notification_id] = await enqueue(database_url, ["ops"], alert_payload())
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            [claimed] = await queue_sql.claim(conn, "ops", 10, 0.6, "dead-worker")
        assert claimed.notification_id == notification_id  # ... and it died without a word
        async with running(config) as [worker]:
            await until(lambda: row(db, notification_id)["state"] == "delivered")
            assert worker.counters.taken_over == 1
        return notification_id

    try:
        notification_id = asyncio.run(scenario())
    finally:
        receiver.stop()
    assert row(db, notification_id)["attempts"] == 2
    assert receiver.delivered(notification_id) == 1


def test_concurrent_workers_deliver_each_notification_once(
    database_url: str, db: psycopg.Connection
) -> None:
    receiver = WebhookReceiver().start()
    config = make_config(database_url, [webhook("ops", receiver.url)], batch=3)

    async def scenario() -> list[uuid.UUID]:
        async with running(config, count=3) as workers:
            ids = []
            for alert_id in range(60):
                ids += await enqueue(database_url, ["ops"], alert_payload(alert_id=alert_id))
            await until(lambda: all(receiver.delivered(i) for i in ids), what="60 deliveries")
            delivered = "SELECT count(*) FROM noisefleet.notifications WHERE state = 'delivered'"
            await until(lambda: db.execute(delivered).fetchone() == (60,))
            assert sum(w.counters.claimed for w in workers) == 60
        return ids

    try:
        ids = asyncio.run(scenario())
    finally:
        receiver.stop()
    assert len(receiver.posts) == 60
    assert all(receiver.delivered(i) == 1 for i in ids)


def test_bad_receivers_do_not_stall_the_others(database_url: str, db: psycopg.Connection) -> None:
    good = WebhookReceiver().start()
    hanging = WebhookReceiver(mode="hang").start()
    huge = WebhookReceiver(mode="huge", default=500).start()
    elsewhere = WebhookReceiver(mode="redirect", location="http://127.0.0.2:9/hook").start()
    moved = WebhookReceiver(mode="redirect").start()
    moved.location = f"http://127.0.0.1:{moved.port}/moved"
    receivers = [good, hanging, huge, elsewhere, moved]
    config = make_config(
        database_url,
        [
            webhook("good", good.url),
            webhook("hanging", hanging.url, timeout_s=0.5),
            webhook("huge", huge.url),
            webhook("elsewhere", elsewhere.url),
            webhook("moved", moved.url),
        ],
        max_in_flight=1,  # the hanging receiver's second notification waits for a free slot
    )
    names = ["good", "hanging", "huge", "elsewhere", "moved"]

    async def scenario() -> dict[str, uuid.UUID]:
        async with running(config) as [worker]:
            ids = dict(zip(names, await enqueue(database_url, names, alert_payload()), strict=True))
            [waiting] = await enqueue(database_url, ["hanging"], alert_payload(alert_id=18))
            await until(lambda: row(db, ids["good"])["state"] == "delivered")
            await until(lambda: row(db, ids["moved"])["state"] == "delivered")
            await until(lambda: row(db, ids["elsewhere"])["state"] == "failed")
            await until(lambda: row(db, ids["hanging"])["attempts"] >= 2, what="2 timeouts")
            await until(lambda: row(db, ids["huge"])["attempts"] >= 2, what="2 huge answers")
            await until(lambda: row(db, waiting)["attempts"] >= 1, what="the second one's turn")
            # a notifier without a free slot is left alone until one frees up: no busy loop
            assert worker.counters.passes < 60
        return ids

    try:
        ids = asyncio.run(scenario())
    finally:
        for receiver in receivers:
            receiver.stop()
    assert "no answer within 0.5 s" in row(db, ids["hanging"])["last_error"]
    assert row(db, ids["huge"])["last_error"].startswith("127.0.0.1 answered HTTP 500")
    assert len(row(db, ids["huge"])["last_error"]) < 300
    assert "127.0.0.2:9, another host: not followed" in row(db, ids["elsewhere"])["last_error"]
    assert [(p.path, p.status, p.signed) for p in moved.posts] == [
        ("/hook", 307, True),
        ("/moved", 200, True),
    ]


def test_enqueue_refuses_what_it_cannot_send(database_url: str) -> None:
    from noisefleet_server.notify.errors import NotifyError

    async def scenario(payload: dict[str, Any]) -> None:
        await enqueue(database_url, ["ops"], payload)

    with pytest.raises(NotifyError, match=r"^payload.event: required"):
        asyncio.run(scenario({"alert_id": 1}))
    with pytest.raises(NotifyError, match=r"^payload: notification_id is set by enqueue"):
        asyncio.run(scenario(alert_payload(notification_id="x")))
    with pytest.raises(NotifyError, match=r"^payload: not JSON"):
        asyncio.run(scenario(alert_payload(value=float("nan"))))
