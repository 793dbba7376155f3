"""A real, throwaway PostgreSQL server for tests, started from the system's binaries.

``Postgres(workdir)``:
1. finds ``initdb``/``pg_ctl`` (Debian's /usr/lib/postgresql/N/bin, newest first);
2. ``initdb`` a cluster in ``workdir`` (trust authentication on 127.0.0.1, no fsync: a test
   server), as user ``postgres`` when we run as root (PostgreSQL refuses to run as root);
3. ``start()`` runs ``pg_ctl start`` on a free port and waits until it accepts connections;
   ``stop()`` stops it fast (the data stays, so ``start()`` again is a database restart);
4. ``create_database(name)`` gives a fresh database and its libpq URL; ``cleanup()`` removes
   the files.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.support.mosquitto import free_port

__all__ = ["Postgres", "PostgresNotInstalledError"]


class PostgresNotInstalledError(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def _bin_dir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresNotInstalledError("PostgreSQL server binaries not found: run make setup")


class Postgres:
    """One PostgreSQL cluster (see the module docstring)."""

    host = "127.0.0.1"

    def __init__(self, workdir: Path) -> None:
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            # User postgres cannot enter root's private temp dirs (pytest's are 0700): use a
            # dir of its own under the system temp dir, removed by ``cleanup``.
            workdir = Path(tempfile.mkdtemp(prefix="noisefleet-pg-"))
        self.workdir = Path(workdir)
        self.bin = _bin_dir()
        self.data = self.workdir / "pgdata"
        self.port = free_port()
        self.log_path = self.workdir / "postgres.log"
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale",
            "C",
        )
        settings = [
            f"port = {self.port}",
            f"listen_addresses = '{self.host}'",
            f"unix_socket_directories = '{self.workdir}'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 100",
            "shared_buffers = 128MB",
        ]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=check, capture_output=True, cwd=self.workdir)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self, timeout_s: float = 30.0) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "start")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, check: bool = True) -> None:
        """Stop fast; ``check=False`` tolerates a server that is already down."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=check)

    def cleanup(self) -> None:
        """Remove the cluster's files (after ``stop``)."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
