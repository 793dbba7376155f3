"""The whole-system demo's plan: pure data and text, no I/O (the orchestrator is the shell).

1. ``DEMO_SENSORS``: six sensors at two sites (an apartment building and a city street), each
   with its own synthetic soundscape;
2. ``edge_config``: one edge agent's TOML for a site's sensors (file sources played in real
   time and looped), paths relative to the configuration's folder;
3. ``status_line``: the compact live line the terminal shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

APARTMENT = "demo-apartments"
STREET = "demo-street"


@dataclass(frozen=True)
class DemoSensor:
    site: str
    id: str
    soundscape: str
    """Name of the synthetic soundscape the sensor plays (one per sensor, all different)."""


DEMO_SENSORS: tuple[DemoSensor, ...] = (
    DemoSensor(APARTMENT, "courtyard", "courtyard-voices"),
    DemoSensor(APARTMENT, "stairwell", "stairwell-footsteps"),
    DemoSensor(APARTMENT, "rooftop", "rooftop-hvac"),
    DemoSensor(STREET, "crossing", "traffic-horns"),
    DemoSensor(STREET, "bus-stop", "bus-siren"),
    DemoSensor(STREET, "park-gate", "dogs-children"),
)


def edge_config(
    site: str,
    sensors: tuple[DemoSensor, ...],
    mqtt_port: int,
    state_dir: str,
    recordings: dict[str, str],
    calibration_offset_db: float = 120.0,
) -> str:
    """TOML for one edge agent running ``sensors`` of ``site`` against a local broker.

    ``recordings`` maps a sensor id to its recording's path (relative to the config's folder).
    """
    chosen = [s for s in sensors if s.site == site]
    if not chosen:
        raise ValueError(f"no demo sensors at site {site!r}")
    lines = [
        "[agent]",
        f"site = {json.dumps(site)}",
        f"state_dir = {json.dumps(state_dir)}",
        "[mqtt]",
        'host = "127.0.0.1"',
        f"port = {mqtt_port}",
    ]
    for sensor in chosen:
        path = json.dumps(recordings[sensor.id])
        lines += [
            "[[sensors]]",
            f"id = {json.dumps(sensor.id)}",
            f"calibration_offset_db = {calibration_offset_db:.2f}",
            f'source = {{ type = "file", path = {path}, speed = 1, loop = true }}',
        ]
    return "\n".join(lines) + "\n"


def status_line(
    elapsed_s: float,
    messages_per_s: float,
    sensors_online: int,
    sensors_total: int,
    alerts_open: int,
    alerts_fired: int,
) -> str:
    """The live line, e.g. ``[  42 s] 12.5 msg/s | sensors 6/6 online | alerts 2 open, 3 fired``."""
    return (
        f"[{elapsed_s:4.0f} s] {messages_per_s:.1f} msg/s | "
        f"sensors {sensors_online}/{sensors_total} online | "
        f"alerts {alerts_open} open, {alerts_fired} fired"
    )
