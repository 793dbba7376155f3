"""One call from data to alerts: compute a rule's samples and advance its lifecycle.

Steps of ``evaluate(rule, data, t_from, t_to, state)``: the samples in (t_from, t_to]
(``compute_samples``; ``data`` must reach ``rule.lookback_s`` before t_from), then ``advance``
from ``state`` (idle when None), then the transitions folded into episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from noisefleet_core.alerts.conditions import Samples
from noisefleet_core.alerts.lifecycle import Episode, RuleState, Transition, advance, episodes
from noisefleet_core.alerts.model import Rule
from noisefleet_core.alerts.samples import compute_samples
from noisefleet_core.alerts.series import SensorData


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one rule for one sensor over a time range."""

    state: RuleState
    """Where the rule stands after the last sample (store it, pass it to the next call)."""
    transitions: tuple[Transition, ...]
    episodes: tuple[Episode, ...]
    """The alerts that fired, folded from the transitions."""
    samples: Samples
    """The samples behind them (for charts and debugging)."""


def evaluate(
    rule: Rule,
    data: SensorData,
    t_from: float,
    t_to: float,
    state: RuleState | None = None,
) -> Evaluation:
    """Samples of ``rule`` in (t_from, t_to] from ``data``, fed to the lifecycle from ``state``.
    Samples at or before ``state.last_sample`` are left out (re-evaluating an overlap is safe)."""
    start = state or RuleState()
    if start.last_sample is not None:
        t_from = max(t_from, start.last_sample)
    samples = compute_samples(rule, data, t_from, t_to)
    new_state, transitions = advance(rule, start, samples)
    return Evaluation(new_state, transitions, episodes(transitions), samples)
