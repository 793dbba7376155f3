"""Health rules: each check against a hand-made sensor history (minute samples)."""

from __future__ import annotations

from typing import Any

import numpy as np

from noisefleet_core.alerts.evaluate import evaluate
from noisefleet_core.alerts.rules import parse_rule
from noisefleet_core.alerts.samples import compute_samples
from noisefleet_core.alerts.series import SensorData

from .helpers import epoch, heartbeats, minutes

T0 = epoch(2026, 6, 1, 10)
DAY = 86400.0


def check(name: str, **params: Any) -> Any:
    return parse_rule({"id": "h", "kind": "health", "check": name, **params})


def values(rule: Any, data: SensorData, t_from: float, t_to: float) -> list[float]:
    return compute_samples(rule, data, t_from, t_to).values.tolist()


def test_offline_after_silence_or_an_offline_status() -> None:
    # Heartbeats each minute until 10:05; after_s 180: the sample at t is offline when the last
    # heartbeat before t is more than 180 s old: at 10:09 (4 min) but not 10:08 (3 min).
    data = SensorData(health=heartbeats([T0 + 60 * k for k in range(6)]))
    r = check("offline", after_s=180)
    assert values(r, data, T0 + 360, T0 + 600) == [0, 0, 1, 1]
    stopped = SensorData(
        health=heartbeats([T0 + 60 * k for k in range(10)], statuses=[(T0 + 150, "stopped")])
    )
    assert values(r, stopped, T0 + 60, T0 + 240) == [0, 1, 1]  # 10:02, 10:03, 10:04
    ev = evaluate(r, data, T0 + 360, T0 + 600)
    assert [(t.kind, (t.at - T0) // 60) for t in ev.transitions] == [("pending", 9), ("firing", 9)]


def test_stuck_when_every_minute_is_flat_for_after_s() -> None:
    # Flat: LAF10 - LAF90 < 0.2 and LAFmax - LAF90 < 0.4. Minutes 0-2 normal, 3-9 flat;
    # after_s 300: stuck once minutes 3-7 are all flat, i.e. from the 10:08 sample on (the
    # 10:07 sample still sees minute 2).
    laf90 = [40.0] * 10
    laf10 = [45.0] * 3 + [40.1] * 7
    lafmax = [55.0] * 3 + [40.3] * 7
    data = SensorData(
        minutes=minutes(T0, [42.0] * 10, laf10_db=laf10, laf90_db=laf90, lafmax_db=lafmax)
    )
    r = check("stuck", after_s=300)
    assert values(r, data, T0 + 360, T0 + 600) == [0, 1, 1, 1]


def test_noise_floor_needs_a_known_floor() -> None:
    # Floor 25 dB, margin 1: minutes at 25.5 are "dead"; 5 of them from 10:03.
    data = SensorData(minutes=minutes(T0, [35.0] * 3 + [25.5] * 5), noise_floor_db=25.0)
    r = check("noise_floor", after_s=300)
    assert values(r, data, T0 + 420, T0 + 480) == [1]
    assert values(r, data, T0 + 360, T0 + 420) == [0]
    unknown = SensorData(minutes=data.minutes)
    assert np.isnan(values(r, unknown, T0 + 420, T0 + 480)).all()


def test_clipping_counts_the_minute_before_the_sample() -> None:
    data = SensorData(minutes=minutes(T0, [60.0] * 4, clipped=[0, 3, 0, 10]))
    assert values(check("clipping"), data, T0, T0 + 240) == [0, 1, 0, 1]
    assert values(check("clipping", max_clipped=5), data, T0, T0 + 240) == [0, 0, 0, 1]


def test_outbox_growing_deep_or_rising_over_the_last_heartbeats() -> None:
    at = [T0 + 60 * k + 30 for k in range(6)]
    data = SensorData(health=heartbeats(at, depth=[5, 4, 6, 8, 3, 2000]))
    # Rising over 3 heartbeats: 4 -> 6 -> 8 (seen at 10:04); depth 2000 > 1000 at 10:06.
    assert values(check("outbox_growing"), data, T0, T0 + 360) == [0, 0, 0, 1, 0, 1]


def test_clock_unsynced_and_degraded_follow_the_last_heartbeat_and_status() -> None:
    at = [T0 + 30, T0 + 90, T0 + 150]
    data = SensorData(
        health=heartbeats(
            at,
            synced=[True, False, True],
            errors=[None, None, "usb reset"],
            statuses=[(T0, "online"), (T0 + 200, "degraded")],
        )
    )
    unsynced = values(check("clock_unsynced"), data, T0 - 60, T0 + 240)
    assert np.isnan(unsynced[0])  # no heartbeat before 10:00 yet
    assert unsynced[1:] == [0, 1, 0, 0]  # heartbeats of 10:00:30, 10:01:30, 10:02:30
    assert values(check("degraded"), data, T0, T0 + 240) == [0, 0, 1, 1]


def test_calibration_age_and_a_missing_calibration() -> None:
    calibrated = epoch(2025, 6, 1)
    r = check("calibration_age", max_age_days=365)
    old = SensorData(health=heartbeats([], calibration_date=calibrated))
    # 2025-06-01 + 365 days = 2026-06-01 00:00; 10:00 that day is older than 365 days.
    assert values(r, old, T0, T0 + 60) == [1]
    assert values(r, old, T0 - 2 * DAY, T0 - 2 * DAY + 60) == [0]
    assert values(r, SensorData(), T0, T0 + 60) == [1]
    assert values(check("calibration_age", missing_fires=False), SensorData(), T0, T0 + 60) == [0]
