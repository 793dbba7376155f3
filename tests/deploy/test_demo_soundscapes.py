"""The demo's soundscapes: one per sensor, all different, measured by the core's meter."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from noisefleet_core.acoustics.meter import MeterSettings, SoundLevelMeter

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / f"deploy/demo/{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


scapes = _load("soundscapes")
plan = _load("plan")


def test_every_demo_sensor_has_its_own_soundscape() -> None:
    assert {s.soundscape for s in plan.DEMO_SENSORS} == set(scapes.SOUNDSCAPES)


def test_soundscapes_differ_and_stay_within_full_scale() -> None:
    clips = {n: scapes.soundscape(n, seconds=20.0) for n in scapes.SOUNDSCAPES}
    for clip in clips.values():
        assert clip.size == 20 * scapes.SAMPLE_RATE_HZ
        assert np.all(np.isfinite(clip))
        assert np.max(np.abs(clip)) <= 1.0
    names = list(clips)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not np.allclose(clips[a], clips[b])


def test_loud_scenes_read_louder_than_quiet_ones() -> None:
    settings = MeterSettings(
        sample_rate_hz=scapes.SAMPLE_RATE_HZ, interval_s=60.0, calibration_offset_db=120.0
    )
    laeq = {}
    for name in ("stairwell-footsteps", "traffic-horns"):
        meter = SoundLevelMeter(settings)
        (record,) = meter.process(scapes.soundscape(name))
        laeq[name] = record.laeq_db
    assert laeq["traffic-horns"] > laeq["stairwell-footsteps"] + 10


def test_unknown_soundscape_is_one_line_error() -> None:
    with pytest.raises(ValueError, match="unknown soundscape"):
        scapes.soundscape("nowhere")
