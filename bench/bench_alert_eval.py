"""Benchmark: the cost of evaluating one alert rule for one sensor per minute of new data.

For each rule kind, the way the server's engine calls the core once a minute: the data of the
rule's lookback (sliced out of a day of synthetic minutes, records, events and heartbeats),
``evaluate`` over the last minute with the state carried. Prints the median of several runs in
microseconds per rule-sensor-minute, and the rule-sensor pairs one core can keep up with
(60 s / cost). Also prints a day's replay (one call over 24 h) per minute of data.

Run with ``.venv/bin/python bench/bench_alert_eval.py [--repeats 7]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, stable timings

import argparse
import statistics
import time
from typing import Any

import numpy as np

from noisefleet_core.alerts.evaluate import evaluate
from noisefleet_core.alerts.lifecycle import RuleState
from noisefleet_core.alerts.model import Rule
from noisefleet_core.alerts.rules import parse_rule
from noisefleet_core.alerts.series import (
    EventSeries,
    HealthSeries,
    MinuteSeries,
    RecordSeries,
    SensorData,
)

DAY_START = 1_780_272_000.0  # 2026-06-01 00:00 UTC
NIGHT = [{"from": "22:00", "to": "06:00"}]
RULES: dict[str, dict[str, Any]] = {
    "level laeq rolling 15 min": {
        "kind": "level",
        "metric": "laeq",
        "window_s": 900,
        "limit_db": 65,
    },
    "level laeq clock 1 h": {
        "kind": "level",
        "metric": "laeq",
        "window_s": 3600,
        "align": "clock",
        "limit_db": 60,
        "active": NIGHT,
    },
    "level laeq period 16 h + penalties": {
        "kind": "level",
        "metric": "laeq",
        "align": "period",
        "limit_db": 55,
        "active": [{"from": "06:00", "to": "22:00"}],
        "penalties": [
            {"from": "06:00", "to": "07:00", "add_db": 6},
            {"from": "20:00", "to": "22:00", "add_db": 6},
        ],
    },
    "level lafmax period night": {
        "kind": "level",
        "metric": "lafmax",
        "align": "period",
        "limit_db": 75,
        "active": NIGHT,
    },
    "level laf90 rolling 1 h (histograms)": {
        "kind": "level",
        "metric": "laf90",
        "window_s": 3600,
        "limit_db": 55,
    },
    "level laeq ambient reference": {
        "kind": "level",
        "metric": "laeq",
        "window_s": 300,
        "limit_db": 10,
        "reference": "ambient_laf90",
    },
    "level lafmax 1 s (records)": {
        "kind": "level",
        "metric": "lafmax",
        "window_s": 1,
        "limit_db": 85,
    },
    "event": {"kind": "event", "labels": ["dog_bark"], "min_confidence": 0.5},
    "event_count rolling 1 h": {
        "kind": "event_count",
        "labels": ["dog_bark"],
        "window_s": 3600,
        "limit": 10,
    },
    "health offline": {"kind": "health", "check": "offline"},
    "health stuck": {"kind": "health", "check": "stuck"},
    "budget clock 1 h": {"kind": "budget", "window_s": 3600, "align": "clock", "limit_db": 60},
}


def day_of_data(rng: np.random.Generator) -> SensorData:
    n = 1440
    starts = np.asarray(DAY_START + 60.0 * np.arange(n), dtype=np.float64)
    levels = np.asarray(55 + 6 * np.sin(np.arange(n) / 90) + rng.normal(0, 2, n), np.float64)
    firsts = np.floor(levels / 0.1).astype(np.int64) - 60
    counts = tuple(rng.multinomial(6000, np.ones(120) / 120).astype(np.int64) for _ in range(n))
    minutes = MinuteSeries(
        starts,
        10 ** (levels / 10) * 60,
        np.full(n, 60.0),
        levels + 12,
        levels + 20,
        levels + 3,
        levels - 4,
        np.zeros(n, dtype=np.int64),
        0.1,
        firsts,
        counts,
    )
    m = 86400
    rec_levels = 55 + rng.normal(0, 3, m)
    ones = np.ones(m)
    records = RecordSeries(
        DAY_START + np.arange(m, dtype=np.float64),
        ones,
        rec_levels,
        rec_levels + 5,
        rec_levels - 4,
        rec_levels + 15,
        ones,
    )
    k = 2000
    ev_start = np.sort(rng.uniform(DAY_START, DAY_START + 86400, k))
    events = EventSeries(
        ev_start,
        ev_start + rng.uniform(0.5, 5, k),
        ("dog_bark",) * k,
        rng.uniform(0, 1, k),
        rng.uniform(50, 70, k),
        rng.uniform(60, 80, k),
    )
    beats = np.asarray(DAY_START + 60.0 * np.arange(n) + 7, dtype=np.float64)
    health = HealthSeries(
        beats,
        np.zeros(n, dtype=np.int64),
        np.ones(n, dtype=np.bool_),
        (None,) * n,
        np.array([DAY_START]),
        ("online",),
        DAY_START - 86400,
    )
    return SensorData("Europe/Berlin", minutes, records, events, health, 25.0)


def sliced(data: SensorData, t_from: float, t_to: float) -> SensorData:
    """What the server would pass: the lookback and the new minute."""
    return SensorData(
        data.timezone,
        data.minutes.slice(t_from, t_to),
        data.records.slice(t_from, t_to),
        data.events.slice(t_from - 10, t_to),
        data.health,
        data.noise_floor_db,
    )


def per_minute_us(rule: Rule, data: SensorData, repeats: int) -> float:
    """Median cost of one minute's evaluation, over 60 consecutive minutes of the evening."""
    runs = []
    for _ in range(repeats):
        t = DAY_START + 20.5 * 3600  # 20:30 UTC = 22:30 in Berlin: night rules are active
        state = RuleState()
        prepared = []
        for _ in range(60):
            lookback = rule.lookback_s + rule.min_duration_s + 60
            prepared.append((sliced(data, t - lookback, t + 60), t))
            t += 60
        start = time.perf_counter()
        for part, t_from in prepared:
            state = evaluate(rule, part, t_from, t_from + 60, state).state
        runs.append((time.perf_counter() - start) / 60 * 1e6)
    return statistics.median(runs)


def replay_us(rule: Rule, data: SensorData) -> float:
    start = time.perf_counter()
    evaluate(rule, data, DAY_START + 86400 - 23 * 3600, DAY_START + 86400)
    return (time.perf_counter() - start) / (23 * 60) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    data = day_of_data(np.random.default_rng(1))
    print(f"{'rule':40s} {'us/minute':>10s} {'pairs/core':>11s} {'replay us/min':>14s}")
    for name, body in RULES.items():
        rule = parse_rule({"id": "bench", **body})
        evaluate(
            rule, sliced(data, DAY_START, DAY_START + 7200), DAY_START + 3600, DAY_START + 3660
        )  # warm caches (time zone conversions)
        cost = per_minute_us(rule, data, args.repeats)
        print(f"{name:40s} {cost:10.0f} {60e6 / cost:11.0f} {replay_us(rule, data):14.1f}")


if __name__ == "__main__":
    main()
