"""The level gate: threshold, hold after the level drops, and counters of saved inference."""

from __future__ import annotations

import math

from noisefleet_core.events import DetectorSettings, LevelGate, gate_open

SETTINGS = DetectorSettings(("siren",), gate_level_db=50.0, gate_hold_s=0.3)


def test_gate_opens_at_the_threshold() -> None:
    assert gate_open(50.0, SETTINGS)
    assert gate_open(70.0, SETTINGS)
    assert not gate_open(49.9, SETTINGS)
    assert not gate_open(math.nan, SETTINGS)


def test_gate_holds_open_after_the_level_drops() -> None:
    gate = LevelGate(SETTINGS)
    levels = [40, 55, 40, 40, 40, 40, 40, 52, 30, 30, 30, 30]
    decisions = [gate.update(level) for level in levels]
    # 0.3 s hold = 3 frames after the last frame at or above the gate level.
    assert decisions == [False, True, True, True, True, False, False, True, True, True, True, False]
    assert gate.frames_classified == 8
    assert gate.frames_gated == 4
    assert gate.frames_total == 12
    assert math.isclose(gate.gated_fraction, 4 / 12)


def test_quiet_stream_saves_all_inference() -> None:
    gate = LevelGate(SETTINGS)
    assert gate.gated_fraction == 0.0
    assert not any(gate.update(35.0) for _ in range(100))
    assert gate.gated_fraction == 1.0


def test_no_hold() -> None:
    gate = LevelGate(DetectorSettings(("siren",), gate_level_db=50.0, gate_hold_s=0.0))
    assert [gate.update(level) for level in [60, 40, 60, 40]] == [True, False, True, False]
