"""Which alerts draft rules would have raised over stored data, without writing or notifying.

``replay`` evaluates each rule from scratch (idle at ``t_from``) over [t_from, t_to] for every
sensor it applies to, with the same core evaluation and the same data the live engine reads, so
a rule switched on gives the alerts its replay showed (tests/server/test_alerts_live.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import AsyncConnection

from noisefleet_core.alerts.evaluate import evaluate
from noisefleet_core.alerts.rules import Rule
from noisefleet_server.alerts.evaluate_sql import Plan, episode_views, grid_floor, needs_of
from noisefleet_server.alerts.reconcile import EpisodeView
from noisefleet_server.alerts.store_sql import SensorRef, all_sensors
from noisefleet_server.db.alert_data_sql import data_ends, load_sensor_data


@dataclass(frozen=True)
class ReplayedAlert:
    rule: Rule
    sensor: SensorRef
    episode: EpisodeView

    @property
    def tier_name(self) -> str | None:
        tiers = self.rule.tiers
        return tiers[min(max(self.episode.tier, 0), len(tiers) - 1)].name if tiers else None


def _replay_end(
    rule: Rule, t_to: float, levels_end: float | None, events_end: float | None
) -> float | None:
    """Where live evaluation would stand: at the data's end (the clock's for health rules)."""
    if rule.kind == "health":
        return t_to
    ends = [levels_end] if rule.kind not in ("event", "event_count") else [levels_end, events_end]
    known = [e for e in ends if e is not None]
    return max(known) if known else None


async def replay(
    conn: AsyncConnection,
    rules: Sequence[Rule],
    t_from: float,
    t_to: float,
    site: str | None = None,
    sensor: str | None = None,
) -> list[ReplayedAlert]:
    """The alerts (fired, resolved or still open at ``t_to``) ``rules`` raise in the span."""
    found: list[ReplayedAlert] = []
    for ref in await all_sensors(conn):
        if (site and ref.site != site) or (sensor and ref.sensor != sensor):
            continue
        applicable = [r for r in rules if r.applies_to(ref.site, ref.sensor)]
        if not applicable:
            continue
        levels_end, events_end = await data_ends(conn, ref.sensor_id, t_to)
        plans = [
            Plan(r, grid_floor(t_from, r.step_s) - r.step_s, grid_floor(end, r.step_s), None, True)
            for r in applicable
            if (end := _replay_end(r, t_to, levels_end, events_end)) is not None
        ]
        plans = [p for p in plans if p.end > p.start]
        if not plans:
            continue
        data = await load_sensor_data(conn, ref.sensor_id, needs_of(plans), ref.timezone)
        for plan in plans:
            result = evaluate(plan.rule, data, plan.start, plan.end, None)
            for view in episode_views(result):
                if view.fired_at is not None:
                    found.append(ReplayedAlert(plan.rule, ref, view))
    found.sort(key=lambda a: (a.episode.fired_at or 0.0, a.rule.id, a.sensor.site, a.sensor.sensor))
    return found
