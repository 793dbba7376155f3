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
from noisefleet_server.alerts.evaluate_sql import Plan, episode_view, grid_floor, needs_of
from noisefleet_server.alerts.reconcile import EpisodeView
from noisefleet_server.alerts.store_sql import SensorRef, all_sensors
from noisefleet_server.db.alert_data_sql import load_sensor_data


@dataclass(frozen=True)
class ReplayedAlert:
    rule: Rule
    sensor: SensorRef
    episode: EpisodeView

    @property
    def tier_name(self) -> str | None:
        tiers = self.rule.tiers
        return tiers[min(max(self.episode.tier, 0), len(tiers) - 1)].name if tiers else None


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
        plans = [
            Plan(r, grid_floor(t_from, r.step_s) - r.step_s, grid_floor(t_to, r.step_s), None, True)
            for r in applicable
        ]
        plans = [p for p in plans if p.end > p.start]
        if not plans:
            continue
        data = await load_sensor_data(conn, ref.sensor_id, needs_of(plans), ref.timezone)
        for plan in plans:
            result = evaluate(plan.rule, data, plan.start, plan.end, None)
            for episode in result.episodes:
                view = episode_view(episode)
                if view.fired_at is not None:
                    found.append(ReplayedAlert(plan.rule, ref, view))
    found.sort(key=lambda a: (a.episode.fired_at or 0.0, a.rule.id, a.sensor.site, a.sensor.sensor))
    return found
