"""Commands to a sensor over MQTT: ``set`` and ``model``, waiting for the agent's ``state``.

Steps of ``send_and_wait``:
1. connect a short-lived client and subscribe to the sensor's retained ``state`` topic;
2. publish the command(s) at QoS 1 (the agent's persistent session holds them if it is away);
3. wait until a state report answers the request id (accepted or refused with a reason), or
   the timeout passes (the desired settings stay stored and are re-sent when it comes online).
"""

from __future__ import annotations

import asyncio
import io
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

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
