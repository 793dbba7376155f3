"""In-process alert tests: store contract messages through the real ingest transaction, then run
the real alert engine against the suite's PostgreSQL with a controlled clock."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from noisefleet_core.contract.levels import format_timestamp
from noisefleet_core.contract.topics import topic
from noisefleet_server.alerts.engine import AlertEngine
from noisefleet_server.config import ServerConfig, load_config
from noisefleet_server.db.ingest_sql import SensorCache, store_batch
from noisefleet_server.db.minute_rows_sql import PartitionCache
from noisefleet_server.ingest.classify import Accepted, classify
from tests.server.helpers import EXAMPLES, level_record, levels_payload

SITE = "tower"
SENSOR = "roof"


def config_for(url: str, rules_file: Path | None = None, **env: str) -> ServerConfig:
    values = {
        "NOISEFLEET_DATABASE_URL": url,
        "NOISEFLEET_MQTT_URL": "mqtt://127.0.0.1:1",
        **({"NOISEFLEET_ALERTS_RULES_FILE": str(rules_file)} if rules_file else {}),
        **env,
    }
    return load_config(None, {**os.environ, **values})


def write_rules(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def ingest(url: str, messages: Sequence[tuple[str, bytes]]) -> None:
    """Store messages exactly as the ingest worker does (one transaction)."""

    async def main() -> None:
        accepted = []
        for topic_text, payload in messages:
            item = classify(
                topic_text,
                payload,
                datetime.now(UTC) + timedelta(days=3650),
                max_payload_bytes=1 << 24,
                max_future_s=1e9,
                keep_bytes=1024,
            )
            assert isinstance(item, Accepted), item
            accepted.append(item)
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        async with conn, conn.transaction():
            await store_batch(conn, accepted, [], SensorCache(), PartitionCache(False))

    asyncio.run(main())


class Clock:
    def __init__(self, now: datetime) -> None:
        self.t = now.timestamp()

    def __call__(self) -> float:
        return self.t

    def set(self, moment: datetime) -> None:
        self.t = moment.timestamp()


def evaluate(
    config: ServerConfig, clock: Clock, passes: int = 1, dirty_only: bool = False
) -> AlertEngine:
    """Run the engine's full pass ``passes`` times (rules reloaded each time); ``dirty_only``:
    only the pass over sensors with new data (no clock-driven health pass)."""

    async def main() -> AlertEngine:
        async with AsyncConnectionPool(
            config.database.url, min_size=1, max_size=2, kwargs={"autocommit": True}
        ) as pool:
            engine = AlertEngine(config, pool, now=clock)
            for _ in range(passes):
                if dirty_only:
                    await engine.refresh_rules(force=True)
                    await engine.pass_dirty()
                else:
                    await engine.run_once()
            assert engine.rules_error is None, engine.rules_error
            return engine

    return asyncio.run(main())


def minutes_of_records(
    start: datetime,
    levels: Iterable[float],
    site: str = SITE,
    sensor: str = SENSOR,
    seq0: int = 1,
    **record_args: Any,
) -> list[tuple[str, bytes]]:
    """1-s records at ``levels`` from ``start``, one message per 60 records."""
    values = list(levels)
    messages = []
    for i in range(0, len(values), 60):
        records = [
            level_record(start + timedelta(seconds=i + k), round(v, 2), **record_args)
            for k, v in enumerate(values[i : i + 60])
        ]
        messages.append(levels_payload(site, sensor, seq0 + i // 60, records))
    return messages


def alerts(db: psycopg.Connection, rule_id: str | None = None) -> list[dict[str, Any]]:
    cursor = db.execute(
        "SELECT * FROM noisefleet.alerts WHERE (%s::text IS NULL OR rule_id = %s)"
        " ORDER BY pending_since",
        (rule_id, rule_id),
    )
    names = [c.name for c in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def queued(db: psycopg.Connection) -> list[dict[str, Any]]:
    rows = db.execute("SELECT body FROM noisefleet_store.notifications ORDER BY id").fetchall()
    return [json.loads(r[0]) for r in rows]


def heartbeat_payload(
    sent_at: datetime, sequence: int, site: str = SITE, sensor: str = SENSOR, **fields: Any
) -> tuple[str, bytes]:
    """The contract's example heartbeat for ``site/sensor`` at ``sent_at``, with ``fields``."""
    data = json.loads((EXAMPLES / "heartbeat.json").read_text())
    data.update(
        message_id=str(uuid.uuid4()),
        site=site,
        sensor=sensor,
        sequence=sequence,
        sent_at=format_timestamp(sent_at),
        last_audio_at=format_timestamp(sent_at),
        **fields,
    )
    return topic(site, sensor, "heartbeat"), json.dumps(data).encode()
