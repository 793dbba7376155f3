"""The agent's TOML configuration: valid files load into frozen objects, every mistake is one
line naming the key, secrets come from the environment or files and never show in repr."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noisefleet_edge.agent.config import (
    BridgeSourceConfig,
    ConfigError,
    FileSourceConfig,
    MicrophoneSourceConfig,
    load_config,
)
from noisefleet_edge.classifier import default_model_dir

GOOD = """
[agent]
site = "harbour"
state_dir = "state"
heartbeat_s = 30

[outbox]
max_mib = 16

[mqtt]
host = "127.0.0.1"
port = 1884

[[sensors]]
id = "quay-north"
calibration_offset_db = 120.0
calibration_date = 2026-10-02
username = "harbour.quay-north"
password_env = "NF_TEST_PASSWORD"
source = { type = "microphone", device = "hw:1", sample_rate_hz = 48000 }
[sensors.settings]
gate_level_db = 50
interval_s = 1

[[sensors]]
id = "quay-south"
sensitivity_dbfs = -26
source = { type = "udp", listen = "0.0.0.0:5005", mcu_id = 7, sample_rate_hz = 16000 }

[[sensors]]
id = "sim"
source = { type = "file", path = "street.wav", speed = 0, loop = true }
"""


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sf.write(tmp_path / "street.wav", np.zeros(8000), 8000)
    monkeypatch.setenv("NF_TEST_PASSWORD", "s3cret-value")
    return tmp_path


def _write(config_dir: Path, text: str) -> Path:
    path = config_dir / "edge.toml"
    path.write_text(text)
    return path


def test_a_good_configuration_loads(config_dir: Path) -> None:
    config = load_config(_write(config_dir, GOOD))
    assert config.site == "harbour"
    assert config.state_dir == config_dir / "state"  # relative to the file
    assert config.heartbeat_s == 30
    assert config.outbox_max_bytes == 16 << 20
    assert config.mqtt.port == 1884
    assert config.mqtt.tls is None
    north, south, sim = config.sensors
    assert north.source == MicrophoneSourceConfig(device="hw:1", sample_rate_hz=48000)
    assert north.calibration_offset_db == 120.0
    assert north.calibration_date == dt.date(2026, 10, 2)
    assert north.password == "s3cret-value"
    assert north.tuning.gate_level_db == 50
    assert north.model_dir == default_model_dir()
    assert isinstance(south.source, BridgeSourceConfig)
    assert south.source.mcu_id == 7
    assert south.calibration_offset_db == pytest.approx(120.0)  # 94 - (-26)
    assert isinstance(sim.source, FileSourceConfig)
    assert sim.source.path == config_dir / "street.wav"
    assert sim.calibration_offset_db is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.site = "x"  # type: ignore[misc]


def test_secrets_never_appear_in_repr(config_dir: Path) -> None:
    config = load_config(_write(config_dir, GOOD))
    assert "s3cret-value" not in repr(config)


def test_password_from_a_file(config_dir: Path) -> None:
    (config_dir / "pw").write_text("from-file\n")
    text = GOOD.replace(
        'password_env = "NF_TEST_PASSWORD"', 'password_file = "' + str(config_dir / "pw") + '"'
    )
    assert load_config(_write(config_dir, text)).sensors[0].password == "from-file"


def test_a_relative_password_file_is_in_the_configurations_folder(
    config_dir: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config_dir / "secrets").mkdir()
    (config_dir / "secrets" / "pw").write_text("next-to-the-config\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # not the config's folder
    text = GOOD.replace('password_env = "NF_TEST_PASSWORD"', 'password_file = "secrets/pw"')
    assert load_config(_write(config_dir, text)).sensors[0].password == "next-to-the-config"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('site = "harbour"', 'site = "har/bour"'), "agent.site: site 'har/bour' is not allowed"),
        (("heartbeat_s = 30", "heartbeat_s = 0"), r"agent.heartbeat_s: must be within 1..86400"),
        (("heartbeat_s = 30", "heartbeet_s = 30"), "agent: unknown key\\(s\\) heartbeet_s"),
        (("port = 1884", 'port = "1884"'), "mqtt.port: must be a whole number"),
        (("port = 1884", "port = 70000"), "mqtt.port: must be within 1..65535"),
        (('password_env = "NF_TEST_PASSWORD"', 'password = "inline"'), "secrets are not written"),
        (
            ('password_env = "NF_TEST_PASSWORD"', 'password_env = "NF_UNSET_VAR"'),
            "NF_UNSET_VAR is not set",
        ),
        (
            ("calibration_date = 2026-10-02", 'calibration_date = "2026-10-02"'),
            "must be a TOML date",
        ),
        (('id = "sim"', 'id = "quay-north"'), "the id 'quay-north' is used twice"),
        (('type = "udp"', 'type = "carrier-pigeon"'), "'carrier-pigeon' is not a source type"),
        (("mcu_id = 7, ", ""), "needs mcu_id and sample_rate_hz"),
        (('path = "street.wav"', 'path = "missing.wav"'), "missing.wav does not exist"),
        (("gate_level_db = 50", "gate_level = 50"), "sensors.quay-north.settings: .*gate_level"),
        (
            ("sensitivity_dbfs = -26", "sensitivity_dbfs = -26\ncalibration_offset_db = 90"),
            "not both",
        ),
        (('device = "hw:1", ', "devce = 1, "), "unknown key\\(s\\) devce"),
    ],
)
def test_every_mistake_is_one_line_naming_the_key(
    config_dir: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(_write(config_dir, GOOD.replace(old, new, 1)))
    assert "\n" not in str(caught.value)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[agent\nsite=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_no_sensors(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text('[agent]\nsite = "x"\n')
    with pytest.raises(ConfigError, match=r"at least one \[\[sensors\]\]"):
        load_config(path)


def test_a_model_folder_that_is_not_one(config_dir: Path) -> None:
    (config_dir / "empty-model").mkdir()
    text = GOOD.replace('id = "sim"', 'id = "sim"\nmodel = "empty-model"')
    with pytest.raises(ConfigError, match=r"sensors.sim.model: .*not a model folder"):
        load_config(_write(config_dir, text))
