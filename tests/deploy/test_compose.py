"""The deployment files: docker-compose.yml validated by ``docker-compose config`` (no Docker
engine here), every image's Dockerfile, entry point and environment, the secrets script, and
the production broker configuration running on the secrets it makes (TLS, per-device users,
ACL)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.support.mosquitto import Mosquitto, free_port

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
MAKE_SECRETS = REPO / "deploy" / "compose" / "make-secrets.sh"
PACKAGES = {"noisefleet-server": "server", "noisefleet-dashboard": "dashboard",
            "noisefleet-edge": "edge"}  # fmt: skip


def compose_tool() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if shutil.which("docker") and probe.returncode == 0:
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor the docker compose plugin: run scripts/setup.sh")


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The compose file as Compose itself resolves it, with every profile."""
    result = subprocess.run(
        [*compose_tool(), "-f", str(COMPOSE), "--profile", "sim", "--profile", "provision",
         "config"],
        capture_output=True, text=True, check=False, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def console_scripts(package: str) -> set[str]:
    pyproject = tomllib.loads((REPO / PACKAGES[package] / "pyproject.toml").read_text())
    return set(pyproject["project"].get("scripts", {}))


def dockerfile_package(dockerfile: Path) -> str | None:
    match = re.search(r"uv sync .*--package (\S+)", dockerfile.read_text())
    return match.group(1) if match else None


def test_the_stack_has_its_services_and_two_ingest_workers_on_one_shared_subscription(
    resolved: dict[str, Any],
) -> None:
    services = resolved["services"]
    assert set(services) == {
        "broker", "db", "migrate", "ingest-1", "ingest-2", "dashboard", "grafana",
        "grafana-provision", "sim-gateway", "sim-mcu",
    }  # fmt: skip
    workers = [services["ingest-1"], services["ingest-2"]]
    assert all(w["command"] == ["run"] for w in workers)
    ids = {w["environment"]["NOISEFLEET_MQTT_CLIENT_ID"] for w in workers}
    groups = {w["environment"]["NOISEFLEET_MQTT_SHARE_GROUP"] for w in workers}
    assert len(ids) == 2
    assert groups == {"noisefleet-ingest"}
    assert services["db"]["image"].startswith("timescale/timescaledb:")
    assert services["grafana-provision"]["profiles"] == ["provision"]
    assert "--timescaledb" in services["grafana-provision"]["command"]
    assert services["sim-gateway"]["profiles"] == ["sim"]
    # Secrets are files, never values: no password, token or key in any environment.
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            assert not re.search(r"PASSWORD$|TOKEN$|SECRET$", key), (name, key)
            assert urlsplit(str(value)).password is None, (name, key, "password in a URL")
    # The broker's TLS port is the only one open to the network; the web UIs stay on loopback.
    assert [published(p) for p in services["broker"]["ports"]] == [("", "8883")]
    for name in ("dashboard", "grafana"):
        assert all(published(p)[0] == "127.0.0.1" for p in services[name]["ports"]), name
    opened = {n for n, service in services.items() if service.get("ports")}
    assert opened == {"broker", "dashboard", "grafana"}


def published(port: str | dict[str, Any]) -> tuple[str, str]:
    """(host address or "", host port) of a short ("127.0.0.1:8501:8501") or long entry."""
    if isinstance(port, dict):
        return str(port.get("host_ip", "")), str(port["published"])
    parts = str(port).split(":")
    return (parts[0] if len(parts) == 3 else ""), parts[-2]


def test_every_image_builds_from_files_that_exist_and_starts_a_real_entry_point(
    resolved: dict[str, Any],
) -> None:
    dockerfiles = set()
    built = {s["image"] for s in resolved["services"].values() if s.get("build")}
    for name, service in resolved["services"].items():
        build = service.get("build")
        if build is None and service["image"] in built:  # reuses an image built here
            continue
        if build is None:
            assert re.match(r"^(timescale/timescaledb|grafana/grafana-oss):[\w.-]+$",
                            service["image"]), name  # fmt: skip
            continue
        dockerfile = Path(build["context"]) / build["dockerfile"]
        assert dockerfile.is_file(), name
        dockerfiles.add(dockerfile)
    for service in resolved["services"].values():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("/"):  # a bind mount (resolved to an absolute path)
                assert Path(source).exists(), volume
    assert {d.relative_to(REPO).as_posix() for d in dockerfiles} == {
        "deploy/server/Dockerfile", "deploy/dashboard/Dockerfile", "deploy/edge/Dockerfile",
        "deploy/mosquitto/Dockerfile",
    }  # fmt: skip
    for dockerfile in dockerfiles:
        text = dockerfile.read_text()
        for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE):
            *sources, _destination = line.split()
            for source in sources:
                assert (REPO / source).exists(), (dockerfile, source)
        assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE) or "mosquitto" in str(
            dockerfile
        ), f"{dockerfile}: runs as root"
        package = dockerfile_package(dockerfile)
        assert package != "noisefleet-training"  # TensorFlow stays out of every image
        entry = re.search(r'^ENTRYPOINT \["([^"]+)"', text, re.MULTILINE)
        assert entry is not None, dockerfile
        if package is not None:
            assert entry.group(1) in console_scripts(package), dockerfile
        else:  # the broker: its entry script is in the repository
            assert (REPO / "deploy" / "mosquitto" / entry.group(1)).is_file()
    # Commands given in the compose file are console scripts of the image they run in.
    builds = {s["image"]: s["build"] for s in resolved["services"].values() if s.get("build")}
    for name, service in resolved["services"].items():
        build = builds.get(service["image"])
        if build is None or name == "broker":
            continue
        package = dockerfile_package(Path(build["context"]) / build["dockerfile"])
        assert package is not None
        command = " ".join(service.get("command") or [])
        for word in re.findall(r"noisefleet-[a-z-]+", command):
            assert word in console_scripts(package), (name, word)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_image_environment_installs_without_tensorflow_and_its_entry_point_runs(
    package: str, tmp_path: Path
) -> None:
    """The Dockerfile's own `uv sync` line, run here into a fresh environment."""
    dockerfile = REPO / "deploy" / PACKAGES[package] / "Dockerfile"
    line = re.search(r"^RUN (uv sync .*)$", dockerfile.read_text(), re.MULTILINE)
    assert line is not None
    uv = shutil.which("uv") or str(REPO / ".venv" / "bin" / "uv")
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"),
           "UV_PYTHON_DOWNLOADS": "never"}  # fmt: skip
    args = line.group(1).split()[1:]
    result = subprocess.run(
        [uv, *args, "--python", "3.11", "--quiet"], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    site = next((tmp_path / "venv" / "lib").glob("python3*/site-packages"))
    installed = {p.name.lower() for p in site.iterdir()}
    assert not any(n.startswith(("tensorflow", "keras", "torch")) for n in installed)
    if package != "noisefleet-dashboard":
        assert not any(n.startswith("streamlit") for n in installed)
    if package == "noisefleet-edge":
        assert not any(n.startswith("psycopg") for n in installed)
    entry = re.search(r'^ENTRYPOINT \["([^"]+)"', dockerfile.read_text(), re.MULTILINE)
    assert entry is not None
    started = subprocess.run(
        [str(tmp_path / "venv" / "bin" / entry.group(1)), "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("usage: " + entry.group(1))


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("secrets") / "secrets"
    env = {**os.environ, "SECRETS_DIR": str(directory)}
    result = subprocess.run(
        [str(MAKE_SECRETS), "--sim"], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return directory


def test_make_secrets_creates_every_secret_the_stack_names_and_keeps_them_on_a_rerun(
    resolved: dict[str, Any], secrets: Path
) -> None:
    for name, secret in resolved["secrets"].items():
        assert (secrets / Path(secret["file"]).name).stat().st_size > 0, name
    before = {p.name: p.read_bytes() for p in secrets.iterdir()}
    env = {**os.environ, "SECRETS_DIR": str(secrets)}
    subprocess.run([str(MAKE_SECRETS), "--sim"], env=env, check=True, capture_output=True)
    assert {p.name: p.read_bytes() for p in secrets.iterdir()} == before
    assert oct(secrets.stat().st_mode & 0o777) == "0o700"
    assert oct((secrets / "mqtt-ca.key").stat().st_mode & 0o777) == "0o600"
    assert (secrets / "grafana-admin").read_text().startswith("admin:")


def client(port: int, ca: Path, user: str, password: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    c.username_pw_set(user, password)
    return c


def connect(c: mqtt.Client, port: int) -> ReasonCode:
    answered = threading.Event()
    codes: list[ReasonCode] = []

    def on_connect(*args: Any) -> None:
        codes.append(args[3])
        answered.set()

    c.on_connect = on_connect
    c.connect("localhost", port)
    c.loop_start()
    assert answered.wait(10), "no CONNACK"
    return codes[0]


def publish_reason(c: mqtt.Client, topic: str) -> int:
    answered = threading.Event()
    codes: list[int] = []

    def on_publish(_c: Any, _u: Any, _mid: int, reason: ReasonCode, _p: Properties) -> None:
        codes.append(int(reason.value))
        answered.set()

    c.on_publish = on_publish
    c.publish(topic, b"{}", qos=1)
    assert answered.wait(10), "no PUBACK"
    return codes[0]


@pytest.mark.integration
def test_the_broker_runs_the_production_config_on_those_secrets(
    secrets: Path, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "broker")
    port = free_port()
    text = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    swaps = {
        "listener 8883": f"listener {port} 127.0.0.1",
        "/etc/mosquitto/certs/ca.crt": str(secrets / "mqtt-ca.crt"),
        "/etc/mosquitto/certs/server.crt": str(secrets / "mqtt-server.crt"),
        "/etc/mosquitto/certs/server.key": str(secrets / "mqtt-server.key"),
        "/etc/mosquitto/passwd": str(secrets / "mqtt-passwd"),
        "/etc/mosquitto/acl": str(secrets / "mqtt-acl"),
        "/var/lib/mosquitto/": f"{broker.workdir}/",
        "log_dest stderr": f"log_dest file {broker.log_path}\nuser root",
    }
    for old, new in swaps.items():
        assert old in text, old
        text = text.replace(old, new)
    broker.config_path.write_text(text)
    broker.port = port
    broker.start()
    try:
        ca = secrets / "mqtt-ca.crt"
        server = client(port, ca, "server", (secrets / "mqtt-server-password").read_text())
        assert connect(server, port) == 0  # TLS verified against the made CA, for localhost
        received: list[str] = []
        subscribed = threading.Event()
        server.on_message = lambda _c, _u, message: received.append(message.topic)
        server.on_subscribe = lambda *_args: subscribed.set()
        server.subscribe("noisefleet/v1/#", qos=1)
        assert subscribed.wait(10)
        sensor = client(port, ca, "sim.s01", (secrets / "sim-s01-password").read_text())
        assert connect(sensor, port) == 0
        assert publish_reason(sensor, "noisefleet/v1/sim/s01/heartbeat") == 0
        # Another device's topic: refused (0x87 not authorised) and never delivered.
        assert publish_reason(sensor, "noisefleet/v1/sim/s02/heartbeat") == 0x87
        assert publish_reason(sensor, "noisefleet/v1/sim/s01/heartbeat") == 0
        deadline = threading.Event()
        for _ in range(100):
            if len(received) >= 2:
                break
            deadline.wait(0.05)
        assert received == ["noisefleet/v1/sim/s01/heartbeat"] * 2
        for c in (sensor, server):
            c.loop_stop()
            c.disconnect()
        wrong = client(port, ca, "sim.s02", "not-the-password")
        assert connect(wrong, port).is_failure
        wrong.loop_stop()
        # Plain TCP to the TLS port gets no MQTT session.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"\x10\x00")
            raw.settimeout(5)
            try:
                answer = raw.recv(16)
            except OSError:  # reset by the TLS listener
                answer = b""
            assert answer[:1] != b"\x20"  # never a CONNACK
    finally:
        broker.stop()


@pytest.mark.parametrize(
    "unit",
    ["deploy/server/noisefleet-server@.service", "deploy/dashboard/noisefleet-dashboard.service",
     "deploy/edge/noisefleet-edge.service"],
)  # fmt: skip
def test_the_systemd_units_start_real_commands(unit: str) -> None:
    """Every ExecStart/ExecStartPre is a console script with arguments it accepts."""
    text = (REPO / unit).read_text()
    commands = re.findall(r"^ExecStart(?:Pre)?=(\S+)(.*)$", text, re.MULTILINE)
    assert commands, unit
    scripts = set().union(*(console_scripts(p) for p in PACKAGES))
    for binary, arguments in commands:
        name = Path(binary).name
        assert name in scripts, (unit, binary)
        result = subprocess.run(
            [str(REPO / ".venv" / "bin" / name), *arguments.split(), "--help"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, (unit, arguments, result.stderr)
        assert result.stdout.startswith("usage: "), (unit, arguments)
