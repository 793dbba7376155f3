"""The Sensor page's data: one sensor's registry row, its heartbeats bucketed over a range, the
commands sent to it with the agent's answers — read from the views ``noisefleet.sensors``,
``noisefleet.heartbeats`` and ``noisefleet.sensor_commands``, limited to the caller's
``SiteScope`` in SQL — and the two writes, which go through the server's own functions:

1. ``push_settings``: refused (``NotAllowedError``) unless the user may write at the site, the
   changes parsed like the server CLI's (``registry.parse_settings``), then
   ``commands.push_settings`` (desired settings stored, a pending ``set`` command stored and
   published, the agent's answer recorded when it comes within the wait);
2. ``push_model``: the same checks, a folder of ``dashboard.models_dir`` only, then
   ``commands.push_model``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import class_row

from noisefleet_dashboard.access import SiteScope, User, may_write, scope_sql
from noisefleet_dashboard.alert_queries import NotAllowedError, run_async
from noisefleet_dashboard.errors import DashboardError
from noisefleet_server import commands, registry
from noisefleet_server.config import MqttSettings
from noisefleet_server.errors import BrokerUnavailableError, CommandError, RegistryError


class PushError(DashboardError):
    """A push that could not be made (bad settings, no broker, unknown model); one line."""


@dataclass(frozen=True)
class SensorDetail:
    site: str
    sensor: str
    pending: bool
    description: str | None
    location: str | None
    status: str | None
    status_reason: str | None
    status_at: datetime | None
    last_seen: datetime | None
    heartbeat_at: datetime | None
    outbox_depth: int | None
    model_name: str | None
    model_sha256: str | None
    feature_params_hash: str | None
    calibration_offset_db: float | None
    calibration_date: Any
    desired_settings: dict[str, Any]
    reported_settings: dict[str, Any] | None
    reported_at: datetime | None


@dataclass(frozen=True)
class HealthPoint:
    """One bucket of heartbeats (``bucket_s`` long from ``start``)."""

    start: datetime
    heartbeats: int
    cpu_percent: float
    """Mean."""
    temperature_c: float | None
    """Highest."""
    disk_free_gb: float
    """Lowest (10⁹ bytes)."""
    outbox_depth: int
    """Highest backlog."""
    outbox_dropped: int
    """Highest count the agent reported (it counts since its start)."""
    dropped_frames: int
    """Highest count the agent reported (since its start)."""
    clock_synced: float
    """Share of heartbeats with the clock synchronised (0..1)."""
    source_errors: int
    """Heartbeats that reported a source error."""
    last_audio_at: datetime | None
    """The latest time audio was heard, as of this bucket."""


@dataclass(frozen=True)
class LatestHeartbeat:
    sent_at: datetime
    uptime_s: float
    cpu_percent: float
    temperature_c: float | None
    disk_free_bytes: int
    outbox_depth: int
    outbox_dropped: int
    dropped_frames: int
    clock_synced: bool
    source_error: str | None
    source_failures: int | None
    last_audio_at: datetime | None


@dataclass(frozen=True)
class CommandRow:
    request_id: str
    kind: str
    body: dict[str, Any]
    requested_by: str
    requested_at: datetime
    state: str
    reason: str | None
    answered_at: datetime | None


def sensors_of(conn: psycopg.Connection, scope: SiteScope) -> list[tuple[str, str]]:
    """Every (site, sensor) the scope allows, assigned ones first."""
    rows = conn.execute(
        f"SELECT site, sensor FROM noisefleet.sensors WHERE {scope_sql()}"
        " ORDER BY pending, site, sensor",
        scope.params(),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def detail(
    conn: psycopg.Connection, scope: SiteScope, site: str, sensor: str
) -> SensorDetail | None:
    cursor = conn.cursor(row_factory=class_row(SensorDetail))
    return cursor.execute(
        "SELECT site, sensor, pending, description, location, status, status_reason, status_at,"
        " last_seen, heartbeat_at, outbox_depth, model_name, model_sha256, feature_params_hash,"
        " calibration_offset_db, calibration_date, desired_settings, reported_settings,"
        f" reported_at FROM noisefleet.sensors WHERE site = %(site)s AND sensor = %(sensor)s"
        f" AND {scope_sql()}",
        {**scope.params(), "site": site, "sensor": sensor},
    ).fetchone()


def latest_heartbeat(
    conn: psycopg.Connection, scope: SiteScope, site: str, sensor: str
) -> LatestHeartbeat | None:
    cursor = conn.cursor(row_factory=class_row(LatestHeartbeat))
    return cursor.execute(
        "SELECT sent_at, uptime_s, cpu_percent, temperature_c, disk_free_bytes, outbox_depth,"
        " outbox_dropped, dropped_frames, clock_synced, source_error, source_failures,"
        " last_audio_at FROM noisefleet.heartbeats WHERE site = %(site)s"
        f" AND sensor = %(sensor)s AND {scope_sql()} ORDER BY sent_at DESC LIMIT 1",
        {**scope.params(), "site": site, "sensor": sensor},
    ).fetchone()


def health(
    conn: psycopg.Connection,
    scope: SiteScope,
    site: str,
    sensor: str,
    start: datetime,
    end: datetime,
    bucket_s: int,
) -> list[HealthPoint]:
    """Heartbeats in [start, end) in buckets of ``bucket_s`` seconds (aligned to ``start``)."""
    cursor = conn.cursor(row_factory=class_row(HealthPoint))
    return cursor.execute(
        "SELECT date_bin(make_interval(secs => %(bucket)s), sent_at, %(start)s) AS start,"
        " count(*)::int AS heartbeats, avg(cpu_percent) AS cpu_percent,"
        " max(temperature_c) AS temperature_c,"
        " (min(disk_free_bytes) / 1e9)::float8 AS disk_free_gb,"
        " max(outbox_depth) AS outbox_depth, max(outbox_dropped) AS outbox_dropped,"
        " max(dropped_frames) AS dropped_frames,"
        " avg(clock_synced::int)::float8 AS clock_synced,"
        " count(*) FILTER (WHERE source_error IS NOT NULL)::int AS source_errors,"
        " max(last_audio_at) AS last_audio_at"
        " FROM noisefleet.heartbeats WHERE site = %(site)s AND sensor = %(sensor)s"
        f" AND sent_at >= %(start)s AND sent_at < %(end)s AND {scope_sql()}"
        " GROUP BY 1 ORDER BY 1",
        {
            **scope.params(),
            "site": site,
            "sensor": sensor,
            "start": start,
            "end": end,
            "bucket": bucket_s,
        },
    ).fetchall()


def command_history(
    conn: psycopg.Connection, scope: SiteScope, site: str, sensor: str, limit: int = 20
) -> list[CommandRow]:
    """The newest commands sent to the sensor, with their answers."""
    cursor = conn.cursor(row_factory=class_row(CommandRow))
    return cursor.execute(
        "SELECT request_id::text, kind, body, requested_by, requested_at, state, reason,"
        " answered_at FROM noisefleet.sensor_commands WHERE site = %(site)s"
        f" AND sensor = %(sensor)s AND {scope_sql()}"
        " ORDER BY requested_at DESC LIMIT %(limit)s",
        {**scope.params(), "site": site, "sensor": sensor, "limit": limit},
    ).fetchall()


def model_folders(models_dir: str) -> list[Path]:
    """The model folders (with a model.json) in ``models_dir``, by name; none when unset."""
    if not models_dir:
        return []
    root = Path(models_dir)
    if not root.is_dir():
        raise PushError(f"dashboard.models_dir: {root} is not a folder")
    return sorted(p for p in root.iterdir() if (p / "model.json").is_file())


def _check_writer(user: User, site: str) -> None:
    if not may_write(user, site):
        if user.role == "viewer":
            raise NotAllowedError("Viewers cannot change sensors.")
        raise NotAllowedError(f"Site {site!r} is not one of your sites.")


def push_settings(
    url: str,
    mqtt: MqttSettings,
    user: User,
    site: str,
    sensor: str,
    assignments: Sequence[str],
    wait_s: float,
) -> commands.Sent:
    """Send ``key=value`` changes to the sensor as ``user`` (see the module docstring)."""
    _check_writer(user, site)
    try:
        changes = registry.parse_settings([a for a in assignments if a.strip()])
    except RegistryError as error:
        raise PushError(str(error)) from None
    if not changes:
        raise PushError("No changes: write one key=value per line (e.g. gate_level_db=45).")
    try:
        return run_async(
            url,
            lambda conn: commands.push_settings(
                conn, mqtt, site, sensor, changes, user.username, wait_s
            ),
        )
    except (RegistryError, CommandError, BrokerUnavailableError) as error:
        raise PushError(str(error)) from None


def push_model(
    url: str,
    mqtt: MqttSettings,
    models_dir: str,
    user: User,
    site: str,
    sensor: str,
    folder_name: str,
    wait_s: float,
) -> commands.Sent:
    """Send the model folder ``folder_name`` of ``models_dir`` to the sensor as ``user``."""
    _check_writer(user, site)
    folders = {p.name: p for p in model_folders(models_dir)}
    if folder_name not in folders:
        raise PushError(f"No model folder {folder_name!r} in dashboard.models_dir.")
    try:
        return run_async(
            url,
            lambda conn: commands.push_model(
                conn, mqtt, site, sensor, folders[folder_name], user.username, wait_s
            ),
        )
    except (RegistryError, CommandError, BrokerUnavailableError) as error:
        raise PushError(str(error)) from None
