"""evaluate(): one call over a range equals minute-by-minute calls with the state carried."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.alerts.evaluate import evaluate
from noisefleet_core.alerts.lifecycle import RuleState
from noisefleet_core.alerts.rules import parse_rule
from noisefleet_core.alerts.series import SensorData
from noisefleet_core.alerts.windows import RowIndex, range_max

from .helpers import epoch, minutes

T0 = epoch(2026, 10, 24, 18)

RULES: list[dict[str, Any]] = [
    {
        "kind": "level",
        "metric": "laeq",
        "window_s": 900,
        "tiers": [{"name": "warning", "limit_db": 62}, {"name": "limit", "limit_db": 66}],
        "hysteresis_db": 1,
        "min_duration_s": 120,
        "release_s": 180,
        "cooldown_s": 600,
    },
    {
        "kind": "level",
        "metric": "laeq",
        "window_s": 3600,
        "align": "clock",
        "limit_db": 63,
        "active": [{"from": "22:00", "to": "06:00"}],
    },
    {
        "kind": "level",
        "metric": "lafmax",
        "align": "period",
        "limit_db": 80,
        "active": [{"from": "22:00", "to": "06:00"}],
    },
    {"kind": "budget", "window_s": 3600, "align": "clock", "limit_db": 63},
]


def _key(t: Any) -> tuple[Any, ...]:
    return tuple(None if isinstance(x, float) and math.isnan(x) else x for x in vars(t).values())


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(RULES), st.integers(0, 2**32 - 1))
def test_minute_by_minute_equals_one_call(body: dict[str, Any], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 14 * 60  # 18:00 UTC to 08:00 UTC, across the DST night in Berlin
    levels = 58 + 8 * np.sin(np.arange(n) / 40.0) + rng.normal(0, 2, n)
    levels[rng.random(n) < 0.05] = np.nan
    data = SensorData(
        timezone="Europe/Berlin",
        minutes=minutes(T0, levels.tolist(), lafmax_db=(levels + 15).tolist()),
    )
    rule = parse_rule({"id": "r", **body})
    whole = evaluate(rule, data, T0, T0 + n * 60)
    state, pieces = RuleState(), []
    t = T0
    while t < T0 + n * 60:
        step = float(rng.choice([60, 60, 180, 600]))
        result = evaluate(rule, data, t, min(t + step, T0 + n * 60), state)
        state = RuleState.from_json(json.loads(json.dumps(result.state.to_json())))
        pieces.extend(result.transitions)
        t += step
    assert [_key(x) for x in pieces] == [_key(x) for x in whole.transitions]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.floats(0, 100), st.just(math.nan)), max_size=70),
    st.lists(st.tuples(st.integers(0, 70), st.integers(0, 70)), min_size=1, max_size=20),
)
def test_range_max_equals_a_loop(values: list[float], bounds: list[tuple[int, int]]) -> None:
    array = np.asarray(values, dtype=np.float64)
    lo = np.array([min(a, b, len(values)) for a, b in bounds], dtype=np.int64)
    hi = np.array([min(max(a, b), len(values)) for a, b in bounds], dtype=np.int64)
    got = range_max(array, RowIndex(lo, hi))
    for k in range(lo.size):
        part = [v for v in values[lo[k] : hi[k]] if not math.isnan(v)]
        assert (math.isnan(got[k]) and not part) or got[k] == max(part)
