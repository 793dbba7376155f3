"""The database stopped for 30 s under load and started again: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.server.conftest import SERVER, ServerProcess
from tests.server.helpers import Publisher, level_record, levels_payload, wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.postgres import Postgres

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_database_down_for_30_s_loses_nothing(tmp_path: Path, broker: Mosquitto) -> None:
    postgres = Postgres(tmp_path / "pg")
    postgres.start()
    try:
        url = postgres.create_database("outage")
        env = {**os.environ, "NOISEFLEET_DATABASE_URL": url}
        subprocess.run([*SERVER, "migrate"], env=env, check=True, capture_output=True)
        server = ServerProcess(
            {
                **env,
                "NOISEFLEET_MQTT_URL": f"mqtt://{broker.host}:{broker.port}",
                "NOISEFLEET_MQTT_CLIENT_ID": "outage-worker",
                "NOISEFLEET_MQTT_RECONNECT_MAX_S": "2",
                "NOISEFLEET_DATABASE_CONNECT_TIMEOUT_S": "2",
            },
            tmp_path / "server.log",
        ).start()
        publisher = Publisher(broker.host, broker.port)

        def batch(n: int) -> tuple[str, bytes]:
            start = T0 + timedelta(minutes=n)
            records = [level_record(start + timedelta(seconds=i), 60.0) for i in range(60)]
            return levels_payload("park", "s01", n + 1, records)

        def stored() -> int:
            with psycopg.connect(url) as conn:
                row = conn.execute("SELECT count(*) FROM noisefleet_store.messages").fetchone()
                return int(row[0]) if row else 0

        publisher.publish_many([batch(n) for n in range(20)])
        wait_for(lambda: stored() == 20, what="20 messages before the outage")
        postgres.stop()
        outage_start = time.monotonic()
        sent = 20
        while time.monotonic() - outage_start < 30:  # keep publishing through the outage
            publisher.publish_many([batch(n) for n in range(sent, sent + 5)])
            sent += 5
            time.sleep(1.0)
        assert "database unavailable" in server.log()
        postgres.start()
        wait_for(lambda: stored() == sent, timeout_s=90, what=f"all {sent} messages")
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM noisefleet.levels").fetchone()
        assert row is not None
        assert row[0] == sent * 60
        publisher.close()
        assert server.stop() == 0
        assert "Traceback" not in server.log()
    finally:
        postgres.stop(check=False)
        postgres.cleanup()
