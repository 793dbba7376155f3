"""A real mosquitto broker for tests, run in the foreground from a temp dir.

``Mosquitto(workdir, ...)``:
1. picks a free 127.0.0.1 port (and one more for TLS), kept across ``stop()``/``start()`` so a
   restart test reconnects to the same address and finds the same persistence file;
2. writes ``mosquitto.conf`` (``user root``, persistence, a log file) and, when asked, a password
   file (``mosquitto_passwd -b``), an ACL file and a TLS listener with a CA, a server certificate
   for 127.0.0.1/localhost and a client certificate made by ``openssl``;
3. ``start()`` runs ``mosquitto -c mosquitto.conf`` and waits until the port accepts connections;
   ``stop()`` sends SIGTERM (mosquitto writes its persistence file) and waits.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["Mosquitto", "MosquittoNotInstalledError", "find_tool"]

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class MosquittoNotInstalledError(RuntimeError):
    """mosquitto or one of its tools is missing."""


def find_tool(name: str) -> str:
    """The path of ``name`` (also looked for in the sbin directories)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    found = shutil.which(name, path=search)
    if found is None:
        raise MosquittoNotInstalledError(f"{name} is not installed: run make setup")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """One broker process (see the module docstring)."""

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        *,
        users: Mapping[str, str] | None = None,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        acl: str | None = None,
        tls: bool = False,
        extra_config: str = "",
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.binary = find_tool("mosquitto")
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.log_path = self.workdir / "mosquitto.log"
        self.config_path = self.workdir / "mosquitto.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self.password_file = password_file
        if users:
            self.password_file = self.workdir / "passwd"
            write_password_file(self.password_file, users)
        self.acl_file = acl_file
        if acl is not None:
            self.acl_file = self.workdir / "acl"
            self.acl_file.write_text(acl)
        self.certs: dict[str, Path] = make_certificates(self.workdir / "certs") if tls else {}
        self._write_config(extra_config)

    # -- configuration ---------------------------------------------------------------------------

    def _write_config(self, extra: str) -> None:
        lines = [
            "user root",
            "per_listener_settings false",
            f"allow_anonymous {'false' if self.password_file else 'true'}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "persistence_file mosquitto.db",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_type subscribe",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            "max_queued_messages 10000",
            f"listener {self.port} {self.host}",
        ]
        if self.password_file is not None:
            lines.append(f"password_file {self.password_file}")
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        if self.tls_port is not None:
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {self.certs['ca']}",
                f"certfile {self.certs['server_cert']}",
                f"keyfile {self.certs['server_key']}",
                "require_certificate true",
                "tls_version tlsv1.2",
            ]
        self.config_path.write_text("\n".join(lines) + "\n" + extra)

    # -- process ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        """Run the broker and wait until it accepts connections."""
        if self.running:
            return
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited with {self._process.returncode}: {self.log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mosquitto did not listen within {timeout_s} s") from None
                time.sleep(0.02)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (the broker saves its persistence file), then wait; SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def reload(self) -> None:
        """SIGHUP: re-read the password and ACL files."""
        if self._process is not None:
            self._process.send_signal(signal.SIGHUP)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 20) -> str:
        return " | ".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def write_password_file(path: Path, users: Mapping[str, str]) -> None:
    """A mosquitto password file (hashed by ``mosquitto_passwd -b``)."""
    tool = find_tool("mosquitto_passwd")
    path.touch()
    for user, password in users.items():
        subprocess.run(
            [tool, "-b", str(path), user, password], check=True, capture_output=True, timeout=30
        )


def make_certificates(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate (EC
    P-256, one day), by the ``openssl`` CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise MosquittoNotInstalledError("openssl is not installed: run make setup")
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "ca": directory / "ca.crt",
        "ca_key": directory / "ca.key",
        "server_cert": directory / "server.crt",
        "server_key": directory / "server.key",
        "client_cert": directory / "client.crt",
        "client_key": directory / "client.key",
    }
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

    run(
        "req", "-x509", *curve, "-days", "1", "-subj", "/CN=noisefleet test CA",
        "-keyout", str(paths["ca_key"]), "-out", str(paths["ca"]),
    )  # fmt: skip
    extensions = {
        "server": "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        "client": "extendedKeyUsage=clientAuth\n",
    }
    for role, extension in extensions.items():
        request = directory / f"{role}.csr"
        ext_file = directory / f"{role}.ext"
        ext_file.write_text(extension)
        run(
            "req", "-new", *curve, "-subj", f"/CN=noisefleet test {role}",
            "-keyout", str(paths[f"{role}_key"]), "-out", str(request),
        )  # fmt: skip
        run(
            "x509", "-req", "-in", str(request), "-CA", str(paths["ca"]),
            "-CAkey", str(paths["ca_key"]), "-CAcreateserial", "-days", "1",
            "-extfile", str(ext_file), "-out", str(paths[f"{role}_cert"]),
        )  # fmt: skip
    return paths
