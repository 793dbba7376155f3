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
from noisefleet_edge.agent.source_check import check_source
from noisefleet_edge.classifier import SoundClassifier
from noisefleet_edge.console import CommandError, print_error
from noisefleet_edge.sources.base import SourceError


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


def check_config(config: AgentConfig, out: TextIO) -> int:
    """``--check``: load every model and open every source; one line per problem, all of them."""
    problems: list[str] = []
    found: list[str] = []
    for sensor in config.sensors:
        try:
            SoundClassifier(sensor.model_dir)
        except ModelError as error:
            problems.append(f"sensors.{sensor.id}.model: {error}")
        try:
            found.append(f"  {sensor.id}: source opened ({check_source(sensor)})")
        except SourceError as error:
            problems.append(str(error))
    if problems:
        for problem in problems[:-1]:
            print_error(problem)
        raise CommandError(problems[-1])
    for line in [*describe(config), *found]:
        print(line, file=out)
    print("configuration OK", file=out)
    return 0


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
        return check_config(config, out)
    try:
        asyncio.run(Agent(config).run())
    except AgentError as error:
        print_error(str(error))
        return 1
    return 0
