"""Evaluate the rules of one sensor against stored data and write the outcome (one transaction).

Steps of ``evaluate_sensor`` (the caller holds the sensor's evaluation lock and commits):
1. per rule, where to start: resume from the stored state when the new data lies after what
   was evaluated; restart idle at ``restart_point`` when data arrived for times already
   evaluated (late data), or when the rule is new or changed;
2. read once the data all rules need (minutes, records, events, health) over the union of
   their spans, and evaluate each rule with the core (``noisefleet_core.alerts.evaluate``);
3. reconcile the episodes with the stored alerts (``reconcile``), write the actions, queue one
   notification per state change (marked late when the change is old), save the state.
Health rules run against the clock (``now``) and always resume: heartbeats replayed after an
outage do not rewrite their history (the server did not hear from the sensor then).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg import AsyncConnection

from noisefleet_core.alerts.describe import TransitionKind, describe
from noisefleet_core.alerts.evaluate import Evaluation, evaluate
from noisefleet_core.alerts.lifecycle import Episode, RuleState
from noisefleet_core.alerts.rules import HealthRule, LevelRule, Rule
from noisefleet_core.alerts.series import HealthSeries
from noisefleet_server.alerts.notifications import notification_payload
from noisefleet_server.alerts.reconcile import EpisodeView, reconcile
from noisefleet_server.alerts.store_sql import (
    AlertFields,
    Dirty,
    SensorRef,
    StateRow,
    alert_windows,
    apply_action,
    load_alerts,
    save_states,
    set_suppressed,
)
from noisefleet_server.db.alert_data_sql import Needs, load_sensor_data


@dataclass
class EvaluationCounters:
    sensors: int = 0
    rule_runs: int = 0
    restarts: int = 0
    changes: int = 0
    notifications: int = 0
    late_changes: int = 0


@dataclass(frozen=True)
class Plan:
    rule: Rule
    start: float
    end: float
    state: RuleState | None
    restarted: bool


def grid_floor(t: float, step: float) -> float:
    return math.floor(t / step) * step


def restart_point(
    t: float, windows: Sequence[tuple[float, float | None]], cooldown_s: float, step: float
) -> float:
    """The latest grid time ≤ ``t`` at which the rule was idle: outside every stored alert's
    [pending_since, resolved_at + cooldown] (an open alert reaches to infinity). Restarting
    idle there gives the same answers as evaluating from the beginning (docs/alerts.md)."""
    r = grid_floor(t, step)
    moved = True
    while moved:
        moved = False
        for pending_since, resolved_at in windows:
            end = math.inf if resolved_at is None else resolved_at + cooldown_s
            if pending_since < r <= end:
                r = grid_floor(pending_since, step)
                moved = True
    return r


def _kind_span(rule: Rule, dirty: Dirty | None) -> tuple[float | None, float | None]:
    """(earliest new data, data end) that matter to ``rule``."""
    if dirty is None:
        return None, None
    if rule.kind in ("event", "event_count"):
        ends = [t for t in (dirty.levels_to, dirty.events_to) if t is not None]
        return dirty.events_from, max(ends) if ends else None
    return dirty.levels_from, dirty.levels_to


async def _plan(
    conn: AsyncConnection,
    ref: SensorRef,
    rule: Rule,
    stored: dict[str, StateRow],
    dirty: Dirty | None,
    now: float,
) -> Plan | None:
    step = rule.step_s
    row = stored.get(rule.id)
    if rule.kind == "health":
        end = grid_floor(now, step)
        if row is not None and row.rule_hash == rule.rule_hash:
            if end <= row.evaluated_to:
                return None
            return Plan(rule, row.evaluated_to, end, RuleState.from_json(row.state), False)
        return Plan(rule, end - step, end, None, True)
    new_from, data_end = _kind_span(rule, dirty)
    if data_end is None:
        return None
    end = grid_floor(data_end, step)
    first = new_from if new_from is not None else data_end
    if row is not None and row.rule_hash == rule.rule_hash:
        if new_from is None or new_from >= row.evaluated_to:
            if end <= row.evaluated_to:
                return None
            return Plan(rule, row.evaluated_to, end, RuleState.from_json(row.state), False)
        first = min(first, row.evaluated_to)
        end = max(end, row.evaluated_to)
    windows = await alert_windows(conn, rule.id, ref.sensor_id, first)
    start = restart_point(first, windows, rule.cooldown_s, step) - step
    if end <= start:
        return None
    return Plan(rule, start, end, None, True)


def needs_of(plans: Sequence[Plan]) -> Needs:
    """What to read for these plans, each series from the earliest time a rule using it looks
    back to: minutes for windows of a minute or more, the ambient reference, budget and health;
    1-s records for windows under a minute; histograms for LAF90 over more than a minute (and
    the ambient reference's LAF90); events for event rules; heartbeats and status for health."""
    spans: dict[str, list[float]] = {"minutes": [], "records": [], "events": [], "health": []}
    histograms = False
    for p in plans:
        rule, since = p.rule, p.start - p.rule.lookback_s
        if isinstance(rule, LevelRule):
            if rule.window_s >= 60 or rule.reference != "none":
                spans["minutes"].append(since)
            if rule.window_s < 60:
                spans["records"].append(since)
            histograms |= rule.metric == "laf90" and rule.window_s > 60
            histograms |= rule.reference != "none" and rule.reference_window_s > 60
        elif rule.kind in ("event", "event_count"):
            spans["events"].append(since)
        elif isinstance(rule, HealthRule):
            spans["health"].append(since)
            if rule.check in ("stuck", "noise_floor", "clipping"):
                spans["minutes"].append(since)
        else:
            spans["minutes"].append(since)

    def first(kind: str) -> float | None:
        return min(spans[kind]) if spans[kind] else None

    return Needs(
        max(p.end for p in plans),
        minutes_from=first("minutes"),
        histograms=histograms,
        records_from=first("records"),
        events_from=first("events"),
        health_from=first("health"),
    )


def episode_view(e: Episode) -> EpisodeView:
    return EpisodeView(
        pending_since=e.pending_since,
        fired_at=e.fired_at,
        ended_at=e.ended_at,
        resolved_at=e.resolved_at,
        tier=e.tier,
        peak=None if e.peak is None or math.isnan(e.peak) else float(e.peak),
        peak_at=e.peak_at,
        suppressed=e.suppressed,
    )


def episode_views(result: Evaluation) -> list[EpisodeView]:
    """The episodes of an evaluation plus the one still open in its final state (a firing
    alert with no change in the span has no transition, but it is still there)."""
    views = {e.pending_since: episode_view(e) for e in result.episodes}
    s = result.state
    if s.phase in ("pending", "firing") and s.pending_since is not None:
        peak = None if math.isnan(s.peak) else float(s.peak)
        views[s.pending_since] = EpisodeView(
            pending_since=s.pending_since,
            fired_at=s.fired_at if s.phase == "firing" else None,
            ended_at=None,
            resolved_at=None,
            tier=max(s.tier, 0),
            peak=peak,
            peak_at=s.peak_at,
            suppressed=0,
        )
    return sorted(views.values(), key=lambda v: v.pending_since)


@dataclass(frozen=True)
class Preloaded:
    """What a batch read for many sensors at once: the rules' states, and (health pass) the
    heartbeats and status changes."""

    states: dict[str, StateRow]
    health: HealthSeries | None


@dataclass
class SensorOutcome:
    changes: list[dict[str, Any]] = field(default_factory=list)
    """The notification payloads queued (one per state change)."""


async def evaluate_sensor(
    conn: AsyncConnection,
    ref: SensorRef,
    rules: Sequence[Rule],
    dirty: Dirty | None,
    now: float,
    late_after_s: float,
    enqueue: Any,
    counters: EvaluationCounters,
    preloaded: Preloaded,
) -> SensorOutcome:
    """Evaluate ``rules`` for one sensor (see the module docstring). ``enqueue(conn, rule,
    payload)`` queues a notification in this transaction. ``preloaded``: the states (and, in
    the clock-driven health pass, the health series), read for a batch of sensors at once."""
    outcome = SensorOutcome()
    stored = preloaded.states
    plans = [p for r in rules if (p := await _plan(conn, ref, r, stored, dirty, now)) is not None]
    if not plans:
        return outcome
    counters.sensors += 1
    needs = needs_of(plans)
    if preloaded.health is not None and needs.health_from is not None:
        needs = replace(needs, health_from=None)
        data = await load_sensor_data(conn, ref.sensor_id, needs, ref.timezone)
        data = replace(data, health=preloaded.health)
    else:
        data = await load_sensor_data(conn, ref.sensor_id, needs, ref.timezone)
    states: list[tuple[str, str, float, dict[str, Any]]] = []
    for plan in plans:
        rule = plan.rule
        counters.rule_runs += 1
        counters.restarts += plan.restarted
        result = evaluate(rule, data, plan.start, plan.end, plan.state)
        states.append((rule.id, rule.rule_hash, plan.end, result.state.to_json()))
        if _unchanged(plan.state, result):
            continue
        # A restart re-derives every alert after its start; a resumed run only the open one.
        since = plan.start if plan.state is None else None
        alerts = await load_alerts(conn, rule.id, ref.sensor_id, since)
        views = episode_views(result)
        for action in reconcile(alerts, views, now, late_after_s):
            episode = action.episode
            fields = None
            tier = 0
            if episode is not None:
                tier = max(episode.tier, 0)
                fields = _fields(rule, episode, ref)
            alert_id = await apply_action(conn, rule.id, ref.sensor_id, action, fields, tier)
            counters.changes += 1
            for change in action.changes:
                payload = notification_payload(rule, ref, alert_id, change, episode, fields, now)
                await enqueue(conn, rule, payload)
                outcome.changes.append(payload)
                counters.notifications += 1
                counters.late_changes += change.late
        await _count_suppressed(conn, rule, ref, result, {v.pending_since for v in views})
    await save_states(conn, ref.sensor_id, states)
    return outcome


def _unchanged(before: RuleState | None, result: Evaluation) -> bool:
    """A resumed run with nothing to write: no transition, and no open alert whose peak or
    tier moved (most runs: quiet sensors)."""
    if before is None or result.transitions:
        return False
    after = result.state
    if after.phase == "idle":
        return before.phase == "idle"
    same_peak = after.peak == before.peak or (math.isnan(after.peak) and math.isnan(before.peak))
    return after.phase == before.phase and after.tier == before.tier and same_peak


async def _count_suppressed(
    conn: AsyncConnection,
    rule: Rule,
    ref: SensorRef,
    result: Evaluation,
    covered: set[float],
) -> None:
    """Occurrences in the cool-down of an alert resolved in an earlier pass."""
    latest: dict[float, int] = {}
    for t in result.transitions:
        if (
            t.kind == "suppressed"
            and t.pending_since is not None
            and t.pending_since not in covered
        ):
            latest[t.pending_since] = t.suppressed
    for pending_since, count in latest.items():
        await set_suppressed(conn, rule.id, ref.sensor_id, pending_since, count)


def _fields(rule: Rule, e: EpisodeView, ref: SensorRef) -> AlertFields:
    tiers = rule.tiers
    tier = tiers[min(max(e.tier, 0), len(tiers) - 1)] if tiers else None
    kind: TransitionKind = e.state
    message = describe(
        rule,
        kind,
        e.peak,
        tier.name if tier else None,
        e.resolved_at if e.resolved_at is not None else (e.fired_at or e.pending_since),
        ref.site,
        ref.sensor,
        ref.timezone,
        peak=e.peak,
        peak_at=e.peak_at,
        pending_since=e.pending_since,
    )
    return AlertFields(
        kind=rule.kind,
        severity=rule.severity,
        tier_name=tier.name if tier else None,
        limit_value=tier.limit if tier else None,
        value=e.peak,
        message=message,
    )
