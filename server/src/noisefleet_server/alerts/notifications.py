"""The notification payload of one alert state change (docs/notifications.md), built once."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from noisefleet_core.alerts.describe import describe
from noisefleet_core.alerts.rules import Rule
from noisefleet_core.contract.levels import format_timestamp
from noisefleet_server.alerts.reconcile import Change, EpisodeView
from noisefleet_server.alerts.store_sql import AlertFields, SensorRef

SCHEMA = 1


def iso(epoch_s: float | None) -> str | None:
    if epoch_s is None or math.isnan(epoch_s):
        return None
    return format_timestamp(datetime.fromtimestamp(epoch_s, UTC))


def _number(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(float(value), 2)


def notification_payload(
    rule: Rule,
    ref: SensorRef,
    alert_id: int | None,
    change: Change,
    episode: EpisodeView | None,
    fields: AlertFields | None,
    now: float,
) -> dict[str, Any]:
    """The JSON object notifiers deliver for ``change`` (``notification_id``/``sent_at`` are
    added per notifier by the queue)."""
    e = episode
    if change.event == "withdrawn" or fields is None:
        message = (
            f"{ref.site}/{ref.sensor}: {rule.name}: withdrawn; data that arrived later shows "
            "that the condition did not hold"
        )
    else:
        message = describe(
            rule,
            change.event,
            e.peak if e else None,
            fields.tier_name,
            change.at,
            ref.site,
            ref.sensor,
            ref.timezone,
            peak=e.peak if e else None,
            peak_at=e.peak_at if e else None,
            pending_since=e.pending_since if e else None,
        )
    if change.late:
        message += " (late: from data that arrived after an outage)"
    return {
        "schema": SCHEMA,
        "alert_id": alert_id,
        "event": change.event,
        "late": change.late,
        "rule_id": rule.id,
        "rule_name": rule.name,
        "kind": rule.kind,
        "severity": rule.severity,
        "site": ref.site,
        "sensor": ref.sensor,
        "tier": fields.tier_name if fields else None,
        "value": _number(fields.value) if fields else None,
        "limit": _number(fields.limit_value) if fields else None,
        "peak": _number(e.peak) if e else None,
        "peak_at": iso(e.peak_at) if e else None,
        "pending_since": iso(e.pending_since) if e else None,
        "fired_at": iso(e.fired_at) if e else None,
        "ended_at": iso(e.ended_at) if e else None,
        "resolved_at": iso(e.resolved_at) if e else None,
        "changed_at": iso(change.at),
        "evaluated_at": iso(now),
        "message": message,
    }
