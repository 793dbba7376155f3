"""Part 5 of ``noisefleet-edge demo``: the edge agent publishes the street over MQTT.

1. start a throwaway mosquitto (installed by ``make setup``) on a free local port;
2. write an agent configuration with the street recording as a file sensor (played as fast
   as possible) and the calibration just measured;
3. subscribe to everything, run the agent until the recording ends (it then drains its outbox,
   publishes ``stopped`` and exits), decode every message with the contract;
4. print what arrived, per kind, and one event message as it travels on the wire.
Without mosquitto the part is skipped with a note: the rest of the demo needs no broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, TextIO

from noisefleet_core.contract.messages import ContractError, decode

SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def _mosquitto() -> str | None:
    return shutil.which("mosquitto", path=os.pathsep.join([os.environ.get("PATH", ""), *SBIN]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


async def _run(config_path: Path, port: int) -> list[dict[str, Any]]:
    import aiomqtt  # noqa: PLC0415

    from noisefleet_edge.agent.config import load_config  # noqa: PLC0415
    from noisefleet_edge.agent.service import Agent  # noqa: PLC0415

    received: list[dict[str, Any]] = []

    async def subscribe(ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier="demo-subscriber") as client:
            await client.subscribe("noisefleet/v1/#", qos=1)
            ready.set()
            async for message in client.messages:
                payload = bytes(message.payload)
                kind = str(message.topic).rsplit("/", 1)[-1]
                try:
                    if kind in ("levels", "events", "status", "heartbeat"):
                        decode(str(message.topic), payload)
                    valid = True
                except ContractError:
                    valid = False
                received.append({"kind": kind, "valid": valid, "wire": json.loads(payload)})

    ready = asyncio.Event()
    subscriber = asyncio.create_task(subscribe(ready))
    await asyncio.wait_for(ready.wait(), 10)
    await Agent(load_config(config_path)).run()
    await asyncio.sleep(0.5)  # the last messages reach the subscriber
    subscriber.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await subscriber
    return received


def _toml_path(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` as a TOML string (JSON escapes are valid TOML ones)."""
    return json.dumps(os.path.relpath(path.resolve(), base.resolve()))


def publish_demo(street_path: Path, offset_db: float, output_dir: Path, out: TextIO) -> None:
    mosquitto = _mosquitto()
    if mosquitto is None:
        out.write(
            "\n5. the edge agent over MQTT: skipped, mosquitto is not installed (make setup)\n"
        )
        return
    port = _free_port()
    broker_dir = output_dir / "broker"
    broker_dir.mkdir(exist_ok=True)
    conf = broker_dir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    config = output_dir / "edge.toml"
    state = output_dir / "agent-state"
    shutil.rmtree(state, ignore_errors=True)
    street = _toml_path(street_path, config.parent)
    # Paths in the configuration are relative to its own folder (as an operator would write
    # them), so the demo works whatever the working directory and output folder are.
    config.write_text(
        "[agent]\n"
        'site = "demo-street"\n'
        f"state_dir = {_toml_path(state, config.parent)}\n"
        "[mqtt]\n"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        "[[sensors]]\n"
        'id = "corner"\n'
        f"calibration_offset_db = {offset_db:.2f}\n"
        f'source = {{ type = "file", path = {street}, speed = 0 }}\n'
        "[sensors.settings]\n"
        "gate_level_db = 55\n"
    )
    broker = subprocess.Popen(
        [mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if not _wait_for_port(port, 10):
            out.write("\n5. the edge agent over MQTT: skipped, mosquitto did not start\n")
            return
        logging.basicConfig(level=logging.WARNING)
        received = asyncio.run(_run(config, port))
    finally:
        broker.terminate()
        broker.wait(10)
    counts: dict[str, int] = {}
    for item in received:
        counts[item["kind"]] = counts.get(item["kind"], 0) + 1
    records = sum(len(i["wire"]["records"]) for i in received if i["kind"] == "levels")
    invalid = sum(not i["valid"] for i in received)
    states = [i["wire"]["state"] for i in received if i["kind"] == "status"]
    out.write(
        f"\n5. the edge agent ({config.name}) published the street over a local mosquitto:\n"
        f"   {', '.join(f'{n} {k}' for k, n in sorted(counts.items()))} message(s); "
        f"{records} level records; status {' -> '.join(states)}; "
        f"{invalid} message(s) broke the contract\n"
    )
    event = next((i["wire"] for i in received if i["kind"] == "events"), None)
    if event is not None:
        text = json.dumps(event, sort_keys=True)
        out.write(
            f"   an events message on the wire: {text[:400]}{'…' if len(text) > 400 else ''}\n"
        )
