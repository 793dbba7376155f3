"""The whole-system demo's plan: sensors, edge configurations and the status line."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _plan() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_plan", ROOT / "deploy/demo/plan.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_plan"] = module
    spec.loader.exec_module(module)
    return module


plan = _plan()


def test_six_sensors_at_two_sites_each_with_its_own_soundscape() -> None:
    sensors = plan.DEMO_SENSORS
    assert len(sensors) >= 6
    assert {s.site for s in sensors} == {plan.APARTMENT, plan.STREET}
    assert len({s.soundscape for s in sensors}) == len(sensors)
    assert len({(s.site, s.id) for s in sensors}) == len(sensors)


def test_edge_config_is_valid_toml_with_the_sites_sensors_in_real_time() -> None:
    recordings = {s.id: f"sounds/{s.id}.wav" for s in plan.DEMO_SENSORS}
    text = plan.edge_config(plan.STREET, plan.DEMO_SENSORS, 18830, "state/street", recordings)
    config = tomllib.loads(text)
    assert config["agent"] == {"site": plan.STREET, "state_dir": "state/street"}
    assert config["mqtt"]["port"] == 18830
    ids = [s["id"] for s in config["sensors"]]
    assert ids == [s.id for s in plan.DEMO_SENSORS if s.site == plan.STREET]
    for sensor in config["sensors"]:
        assert sensor["source"] == {
            "type": "file",
            "path": f"sounds/{sensor['id']}.wav",
            "speed": 1,
            "loop": True,
        }


def test_edge_config_refuses_a_site_without_sensors() -> None:
    with pytest.raises(ValueError, match="no demo sensors"):
        plan.edge_config("elsewhere", plan.DEMO_SENSORS, 1883, "s", {})


def test_status_line() -> None:
    assert (
        plan.status_line(42.2, 12.54, 5, 6, 2, 3)
        == "[  42 s] 12.5 msg/s | sensors 5/6 online | alerts 2 open, 3 fired"
    )


def test_edge_config_loads_with_the_edge_agents_own_loader(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    from noisefleet_edge.agent.config import FileSourceConfig, load_config

    recordings = {}
    for sensor in plan.DEMO_SENSORS:
        sf.write(tmp_path / f"{sensor.id}.wav", np.zeros(16000), 16000)
        recordings[sensor.id] = f"{sensor.id}.wav"
    path = tmp_path / "apartments.toml"
    path.write_text(plan.edge_config(plan.APARTMENT, plan.DEMO_SENSORS, 18831, "state", recordings))
    config = load_config(path)
    assert config.site == plan.APARTMENT
    assert [s.id for s in config.sensors] == ["courtyard", "stairwell", "rooftop"]
    for sensor in config.sensors:
        assert isinstance(sensor.source, FileSourceConfig)
        assert sensor.source.speed == 1.0
        assert sensor.source.loop
        assert sensor.source.path.resolve() == (tmp_path / f"{sensor.id}.wav").resolve()
