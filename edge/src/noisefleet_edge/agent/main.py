"""``noisefleet-edge run``: load the configuration, set up logging, run the agent.

Exit status: 0 after a clean shutdown (or a configuration that passes ``--check``), 1 when the
configuration or the state directory is unusable (one line on stderr, no traceback).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TextIO

from noisefleet_core.models.manifest import ModelError
from noisefleet_edge.agent.config import AgentConfig, ConfigError, load_config
from noisefleet_edge.agent.service import Agent, AgentError
from noisefleet_edge.classifier import SoundClassifier
from noisefleet_edge.console import CommandError, print_error


def describe(config: AgentConfig) -> list[str]:
    """One line per sensor: what the agent will run (no secrets)."""
    lines = [
        f"site {config.site}: {len(config.sensors)} sensor(s), broker "
        f"{config.mqtt.host}:{config.mqtt.port}{' (TLS)' if config.mqtt.tls else ''}, "
        f"state in {config.state_dir}"
    ]
    for sensor in config.sensors:
        source = sensor.source
        where = getattr(source, "path", None) or getattr(source, "address", None)
        where = where or getattr(source, "device", None) or "default device"
        calibration = (
            f"{sensor.calibration_offset_db:+.2f} dB"
            if sensor.calibration_offset_db is not None
            else "UNCALIBRATED (dBFS, no gate)"
        )
        lines.append(
            f"  {sensor.id}: {source.type} {where}, model {sensor.manifest.name}, "
            f"calibration {calibration}"
        )
    return lines


def run_agent(config_path: Path, check: bool, log_level: str, out: TextIO) -> int:
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    if check:
        for sensor in config.sensors:
            try:
                SoundClassifier(sensor.model_dir)
            except ModelError as error:
                raise CommandError(f"sensors.{sensor.id}.model: {error}") from None
        for line in describe(config):
            print(line, file=out)
        print("configuration OK", file=out)
        return 0
    try:
        asyncio.run(Agent(config).run())
    except AgentError as error:
        print_error(str(error))
        return 1
    return 0
