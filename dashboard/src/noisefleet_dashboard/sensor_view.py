"""How the Sensor page shows one sensor: the heartbeat bucket for a range, the health chart
rows, the settings (desired vs in force), the commands with the agent's answers, and the
headline status. Pure: no Streamlit, no database."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from noisefleet_core.contract.commands import StateReport
from noisefleet_dashboard import formatting
from noisefleet_dashboard.compliance import sensor_state
from noisefleet_dashboard.sensor_queries import CommandRow, HealthPoint, LatestHeartbeat

RANGES: dict[str, timedelta] = {
    "1 hour": timedelta(hours=1),
    "6 hours": timedelta(hours=6),
    "24 hours": timedelta(hours=24),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
}
BUCKETS_S = (60, 300, 900, 3600, 4 * 3600, 86400)
"""Heartbeat buckets (agents send one every minute or so): the finest that fits is used."""

ANSWERS = {"pending": "⏳ pending", "applied": "✅ applied", "refused": "⛔ refused"}

CHARTS: dict[str, tuple[str, ...]] = {
    "CPU (%) and temperature (°C)": ("cpu %", "temperature °C"),
    "Free disk (GB)": ("disk free GB",),
    "Outbox backlog and dropped messages": ("outbox", "outbox dropped"),
    "Dropped audio frames": ("dropped frames",),
    "Clock synchronised (share) and source errors": ("clock synced", "source errors"),
}
"""The page's charts: title → columns of ``health_rows``."""


def bucket_for(span: timedelta, max_points: int) -> int:
    """The finest heartbeat bucket (seconds) that keeps a span under ``max_points`` points."""
    for bucket in BUCKETS_S:
        if span.total_seconds() / bucket <= max_points:
            return bucket
    return BUCKETS_S[-1]


def health_rows(points: Sequence[HealthPoint]) -> list[dict[str, object]]:
    """One chart row per bucket, columns as named in ``CHARTS``."""
    return [
        {
            "start": p.start,
            "cpu %": round(p.cpu_percent, 1),
            "temperature °C": None if p.temperature_c is None else round(p.temperature_c, 1),
            "disk free GB": round(p.disk_free_gb, 2),
            "outbox": p.outbox_depth,
            "outbox dropped": p.outbox_dropped,
            "dropped frames": p.dropped_frames,
            "clock synced": round(p.clock_synced, 2),
            "source errors": p.source_errors,
            "heartbeats": p.heartbeats,
        }
        for p in points
    ]


def status_text(
    status: str | None, last_seen: datetime | None, now: datetime, after_s: float
) -> str:
    return formatting.STATE_MARKS[sensor_state(status, last_seen, now, after_s)]


def health_summary(beat: LatestHeartbeat | None, now: datetime) -> dict[str, str]:
    """The latest heartbeat as the page's metrics (label → shown value)."""
    if beat is None:
        return {"Last heartbeat": "never"}
    audio = (
        "never" if beat.last_audio_at is None else formatting.age(now - beat.last_audio_at) + " ago"
    )
    return {
        "Last heartbeat": formatting.age(now - beat.sent_at) + " ago",
        "CPU": f"{beat.cpu_percent:.1f} %",
        "Temperature": "—" if beat.temperature_c is None else f"{beat.temperature_c:.1f} °C",
        "Free disk": f"{beat.disk_free_bytes / 1e9:.1f} GB",
        "Outbox backlog": str(beat.outbox_depth),
        "Dropped frames": str(beat.dropped_frames),
        "Clock": "synced" if beat.clock_synced else "NOT synced",
        "Last audio": audio,
        "Uptime": formatting.age(timedelta(seconds=beat.uptime_s)),
    }


def source_problem(beat: LatestHeartbeat | None) -> str | None:
    """The agent's reason for not measuring, with its failure count; None when it measures."""
    if beat is None or beat.source_error is None:
        return None
    failures = f" ({beat.source_failures} failures)" if beat.source_failures else ""
    return f"Audio source: {beat.source_error}{failures}"


def _shown(value: object) -> str:
    return "—" if value is None else json.dumps(value)


def settings_rows(
    desired: Mapping[str, Any], reported: Mapping[str, Any] | None
) -> list[dict[str, str]]:
    """Every setting reported in force or desired: its value in force, the desired one, and
    whether the agent applied it."""
    in_force = dict(reported or {})
    rows = []
    for key in sorted(set(in_force) | set(desired)):
        wanted = desired.get(key)
        if key not in desired:
            mark = ""
        elif key not in in_force:
            mark = "⏳ not reported"
        else:
            mark = "✅" if in_force[key] == wanted else "⏳ differs"
        rows.append(
            {
                "setting": key,
                "in force": _shown(in_force.get(key)),
                "desired": "" if key not in desired else _shown(wanted),
                "applied": mark,
            }
        )
    return rows


def push_outcome(what: str, answer: StateReport | None, wait_s: float) -> tuple[str, str]:
    """The line shown after a push: (``success`` | ``error`` | ``info``, text)."""
    if answer is None:
        return (
            "info",
            f"{what} sent; no answer within {wait_s:g} s: pending until the agent answers "
            "(see the commands below; desired settings are re-sent when it comes online).",
        )
    if answer.accepted:
        note = f" ({answer.reason})" if answer.reason else ""
        return "success", f"{what}: applied by the agent{note}."
    return "error", f"{what}: refused by the agent: {answer.reason}"


def answer_text(state: str, reason: str | None) -> str:
    mark = ANSWERS.get(state, state)
    return f"{mark}: {reason}" if reason else mark


def command_what(row: CommandRow) -> str:
    if row.kind == "model":
        return f"model {row.body.get('name', '?')} ({row.body.get('folder', '?')})"
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(row.body.items()))


def command_rows(rows: Sequence[CommandRow]) -> list[dict[str, object]]:
    return [
        {
            "requested": r.requested_at,
            "by": r.requested_by,
            "kind": r.kind,
            "what": command_what(r),
            "answer": answer_text(r.state, r.reason),
            "answered": r.answered_at,
        }
        for r in rows
    ]
