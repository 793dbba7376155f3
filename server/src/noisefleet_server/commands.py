"""Commands to a sensor over MQTT: ``set`` and ``model``, waiting for the agent's ``state``.

Steps of ``send_and_wait``:
1. connect a short-lived client and subscribe to the sensor's retained ``state`` topic;
2. publish the command(s) at QoS 1 (the agent's persistent session holds them if it is away);
3. wait until a state report answers the request id (accepted or refused with a reason), or
   the timeout passes (the desired settings stay stored and are re-sent when it comes online).

``push_settings`` and ``push_model`` (the CLI's and the dashboard's way in) store the command
as ``pending`` first (``registry.record_command``) and record an answer that came in time; a
later answer is recorded by the server's state listener (``state_reports``).
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
from psycopg import AsyncConnection

from noisefleet_core.contract.commands import (
    Command,
    StateReport,
    command_topic,
    decode_command,
    encode_command,
    split_archive,
)
from noisefleet_core.contract.fields import ContractError
from noisefleet_core.contract.topics import topic
from noisefleet_server import registry
from noisefleet_server.config import MqttSettings
from noisefleet_server.errors import BrokerUnavailableError, CommandError
from noisefleet_server.mqtt import default_client_id, make_client


@dataclass(frozen=True)
class Answer:
    report: StateReport | None
    """None: no answer within the timeout."""


async def send_and_wait(
    settings: MqttSettings,
    site: str,
    sensor: str,
    commands: list[Command],
    request_id: str,
    timeout_s: float,
) -> Answer:
    client_id = default_client_id(f"cmd-{uuid.uuid4().hex[:8]}")
    try:
        async with make_client(
            settings, client_id=client_id, persistent=False, manual_ack=False
        ) as client:
            await client.subscribe(topic(site, sensor, "state"), qos=1)
            for command in commands:
                await client.publish(
                    command_topic(site, sensor, command), encode_command(command), qos=1
                )
            try:
                async with asyncio.timeout(timeout_s):
                    async for message in client.messages:
                        payload = message.payload
                        if not isinstance(payload, bytes):
                            continue
                        try:
                            report = decode_command(str(message.topic), payload)
                        except ContractError:
                            continue
                        if isinstance(report, StateReport) and report.request_id == request_id:
                            return Answer(report)
            except TimeoutError:
                return Answer(None)
    except aiomqtt.MqttError as error:
        raise BrokerUnavailableError(f"broker: {' '.join(str(error).split())}") from None
    return Answer(None)


def model_archive(folder: Path) -> bytes:
    """A deterministic tar.gz of a model folder (names sorted, no owners, fixed mtime)."""
    if not (folder / "model.json").is_file():
        raise CommandError(f"{folder}: not a model folder (no model.json)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            info = tarfile.TarInfo(path.name)
            data = path.read_bytes()
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def model_commands(folder: Path) -> tuple[str, list[Command]]:
    transfer_id = str(uuid.uuid4())
    return transfer_id, list(split_archive(model_archive(folder), transfer_id))


@dataclass(frozen=True)
class Sent:
    """A command stored and published; ``answer`` is the agent's report when it came in time
    (already recorded), else None: the command stays ``pending`` until the server's state
    listener records the answer."""

    request_id: str
    answer: StateReport | None


async def _send_recorded(
    conn: AsyncConnection,
    settings: MqttSettings,
    site: str,
    sensor: str,
    commands: list[Command],
    request_id: str,
    timeout_s: float,
) -> Sent:
    answer = await send_and_wait(settings, site, sensor, commands, request_id, timeout_s)
    if answer.report is not None:
        await registry.record_answer(conn, site, sensor, answer.report)
    return Sent(request_id, answer.report)


async def push_settings(
    conn: AsyncConnection,
    settings: MqttSettings,
    site: str,
    sensor: str,
    changes: Mapping[str, Any],
    requested_by: str,
    timeout_s: float,
) -> Sent:
    """Store ``changes`` as desired settings and as a pending ``set`` command, publish it and
    wait up to ``timeout_s`` for the agent's answer."""
    await registry.set_desired(conn, site, sensor, changes)
    command = registry.set_command(changes)
    await registry.record_command(
        conn, site, sensor, command.request_id, "set", changes, requested_by, command.issued_at
    )
    return await _send_recorded(
        conn, settings, site, sensor, [command], command.request_id, timeout_s
    )


async def push_model(
    conn: AsyncConnection,
    settings: MqttSettings,
    site: str,
    sensor: str,
    folder: Path,
    requested_by: str,
    timeout_s: float,
) -> Sent:
    """Send a model folder in chunks as a pending ``model`` command and wait up to ``timeout_s``
    for the agent's verdict."""
    if not folder.is_dir():
        raise CommandError(f"{folder}: not a folder")
    request_id, commands = model_commands(folder)
    body = {"folder": folder.name, "name": model_name(folder), "chunks": len(commands)}
    await registry.record_command(
        conn, site, sensor, request_id, "model", body, requested_by, datetime.now(UTC)
    )
    return await _send_recorded(conn, settings, site, sensor, commands, request_id, timeout_s)


def model_name(folder: Path) -> str:
    """The ``name`` in a model folder's model.json (the folder's name when it has none)."""
    try:
        meta = json.loads((folder / "model.json").read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CommandError(f"{folder}/model.json: cannot be read ({error})") from None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else folder.name
