"""Fixtures of the server tests: a real PostgreSQL (one server for the session, a fresh
migrated database per test), a real mosquitto per test, and ``noisefleet-server run`` as a
subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.server.helpers import Publisher, wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.postgres import Postgres

SERVER = [sys.executable, "-m", "noisefleet_server.cli"]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    server = Postgres(tmp_path_factory.mktemp("postgres"))
    server.start()
    yield server
    server.stop()
    server.cleanup()


@pytest.fixture
def database_url(postgres: Postgres) -> str:
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    env = {**os.environ, "NOISEFLEET_DATABASE_URL": url}
    subprocess.run([*SERVER, "migrate"], env=env, check=True, capture_output=True)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(
        tmp_path / "broker",
        extra_config="max_queued_messages 100000\nmax_inflight_messages 1000\n",
    )
    server.start()
    yield server
    server.stop()


class ServerProcess:
    """``noisefleet-server run`` with its log in a file."""

    def __init__(self, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()) -> None:
        self.env = env
        self.log_path = log_path
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*SERVER, *self.args, "run"], env=self.env, stdout=log, stderr=log
            )
        process = self.process

        def connected() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}: {self.log()}")
            return self.log().count("ingest connected") > self._connects

        wait_for(
            connected,
            timeout_s=30,
            what=f"the server to connect (log: {self.log_path})",
        )
        self._connects += 1
        return self

    _connects = 0

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        if sig == signal.SIGKILL:
            self._connects = self.log().count("ingest connected")
        return code


@pytest.fixture
def start_server(
    database_url: str, broker: Mosquitto, tmp_path: Path
) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(
        client_id: str = "worker-1", args: tuple[str, ...] = (), **settings: str
    ) -> ServerProcess:
        env = {
            **os.environ,
            "NOISEFLEET_DATABASE_URL": database_url,
            "NOISEFLEET_MQTT_URL": f"mqtt://{broker.host}:{broker.port}",
            "NOISEFLEET_MQTT_CLIENT_ID": client_id,
            "NOISEFLEET_ROLLUPS_INTERVAL_S": "0.2",
            "NOISEFLEET_MQTT_RECONNECT_MAX_S": "1",
            **settings,
        }
        process = ServerProcess(env, tmp_path / f"server-{client_id}.log", args).start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process is not None and process.process.poll() is None:
            process.stop(signal.SIGKILL)


@pytest.fixture
def publisher(broker: Mosquitto) -> Iterator[Publisher]:
    client = Publisher(broker.host, broker.port)
    yield client
    client.close()
