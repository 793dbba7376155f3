"""The Alerts page's logic, pure: the alert table's rows, rule drafts and the preview's rows.

A draft (TOML ``[[rules]]`` tables) is checked in three steps, each failing with the core's
one-line ``RuleError``:
1. the draft on its own (``load_rules_toml``: syntax, keys, values, duplicate ids);
2. the database's rules with the draft's replacing those of the same id (``parse_rules``);
3. merged with the rules file in force (``merge_rule_sets``: an id may not be in both).
Notifier names are checked by the server when it loads the new set (the dashboard does not
know the server's notifiers).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from noisefleet_core.alerts.errors import RuleError
from noisefleet_core.alerts.rules import (
    Rule,
    RuleSet,
    load_rules_toml,
    merge_rule_sets,
    parse_rules,
)
from noisefleet_dashboard.alert_queries import AlertRow, PreviewAlert

STATE_MARKS = {"pending": "🟡 pending", "firing": "🔴 firing", "resolved": "🟢 resolved"}
LEVEL_METRICS = ("laeq", "lafmax", "laf90", "lcpeak")


@dataclass(frozen=True)
class Draft:
    rules: tuple[Rule, ...]
    bodies: tuple[dict[str, Any], ...]
    """The rules as stored (``noisefleet_store.alert_rules.body``)."""


def check_draft(text: str, file_rules: RuleSet, db_bodies: Mapping[str, dict[str, Any]]) -> Draft:
    """The draft's rules, valid on their own and together with the rules in force."""
    if not text.strip():
        raise RuleError("the draft is empty: write at least one [[rules]] table")
    draft = load_rules_toml(text)
    if not draft.rules:
        raise RuleError("the draft has no [[rules]] table")
    bodies = tuple(dict(b) for b in tomllib.loads(text)["rules"])
    for body, rule in zip(bodies, draft.rules, strict=True):
        try:
            json.dumps(body)
        except TypeError:
            raise RuleError(
                f'rule {rule.id}: write times as strings ("22:00"), not TOML times'
            ) from None
    kept = [b for rule_id, b in db_bodies.items() if rule_id not in draft.by_id]
    try:
        stored = parse_rules({"rules": [*kept, *bodies]})
    except RuleError as error:
        raise RuleError(f"with the database's rules: {error}") from None
    merge_rule_sets(file_rules, stored)
    return Draft(draft.rules, bodies)


def check_sites(draft: Draft, role: str, sites: frozenset[str]) -> None:
    """Operators may only write rules limited (``sites``) to sites assigned to them."""
    if role == "admin":
        return
    for rule in draft.rules:
        if rule.sites is None:
            raise RuleError(f"rule {rule.id}: sites: an operator's rule must name your sites")
        outside = sorted(rule.sites - sites)
        if outside:
            raise RuleError(f"rule {rule.id}: sites: not yours: {', '.join(outside)}")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise RuleError(f"cannot write {type(value).__name__} as TOML")


def rules_toml(bodies: Sequence[Mapping[str, Any]]) -> str:
    """Rule bodies as ``[[rules]]`` tables (what the editor shows and ``check_draft`` reads)."""
    lines: list[str] = []
    for body in bodies:
        lines.append("[[rules]]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in body.items() if v is not None)
        lines.append("")
    return "\n".join(lines)


def level_rule_toml(
    rule_id: str,
    metric: str,
    window_s: int,
    limit_db: float,
    min_duration_s: int = 0,
    release_s: int = 0,
    sites: Sequence[str] = (),
    active: tuple[str, str] | None = None,
) -> str:
    """The common level rule from the form's fields, as TOML for the editor."""
    body: dict[str, Any] = {
        "id": rule_id,
        "kind": "level",
        "metric": metric,
        "window_s": window_s,
        "limit_db": float(limit_db),
        "min_duration_s": min_duration_s,
        "release_s": release_s,
    }
    if sites:
        body["sites"] = list(sites)
    if active is not None:
        body["active"] = [{"from": active[0], "to": active[1]}]
    return rules_toml([body])


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _db(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def alert_table(rows: Sequence[AlertRow], timezone: str = "UTC") -> list[dict[str, object]]:
    zone = ZoneInfo(timezone)
    return [
        {
            "id": r.alert_id,
            "state": STATE_MARKS.get(r.state, r.state) + (" (withdrawn)" if r.withdrawn else ""),
            "rule": r.rule_id,
            "site": r.site,
            "sensor": r.sensor,
            "severity": r.severity,
            "tier": r.tier or "",
            "value": _db(r.value),
            "limit": _db(r.limit_value),
            "peak": _db(r.peak),
            "since": _local(r.pending_since, zone),
            "fired": _local(r.fired_at, zone),
            "resolved": _local(r.resolved_at, zone),
            "late": r.late,
            "acknowledged by": r.acknowledged_by or "",
            "comment": r.ack_comment or "",
            "message": r.message,
        }
        for r in rows
    ]


def alert_choice(row: AlertRow) -> str:
    ack = f", acknowledged by {row.acknowledged_by}" if row.acknowledged_by else ""
    return f"#{row.alert_id} {row.rule_id} at {row.site}/{row.sensor} ({row.state}{ack})"


def preview_table(found: Sequence[PreviewAlert], timezone: str = "UTC") -> list[dict[str, object]]:
    zone = ZoneInfo(timezone)
    return [
        {
            "rule": a.rule_id,
            "site": a.site,
            "sensor": a.sensor,
            "tier": a.tier or "",
            "fired": _local(a.fired_at, zone),
            "resolved": _local(a.resolved_at, zone) or "still open",
            "peak": _db(a.peak),
        }
        for a in found
    ]
