"""The dashboard's configuration: TOML plus environment, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from noisefleet_dashboard.config import load_config
from noisefleet_dashboard.errors import ConfigError

URL = "postgresql://dash@db:5432/noisefleet"


def test_environment_wins_over_the_file(tmp_path: Path):
    path = tmp_path / "dashboard.toml"
    path.write_text(f'[database]\nurl = "{URL}"\n[dashboard]\nsession_ttl_s = 60\nmax_failed = 3\n')
    config = load_config(path, {"NOISEFLEET_DASHBOARD_MAX_FAILED": "7"})
    assert config.database.url == URL
    assert config.dashboard.session_ttl_s == 60
    assert config.dashboard.max_failed == 7
    assert config.dashboard.lock_s == 900  # the default
    assert URL not in repr(config)


def test_password_from_a_file(tmp_path: Path):
    (tmp_path / "pw").write_text("s3cret/+\n")
    path = tmp_path / "dashboard.toml"
    path.write_text(f'[database]\nurl = "{URL}"\npassword_file = "pw"\n')
    assert load_config(path, {}).database.url == "postgresql://dash:s3cret%2F%2B@db:5432/noisefleet"


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("", {}, "database.url: not set"),
        ('[database]\nurl = "postgresql://u:pw@h/db"\n', {}, "do not put the password"),
        ("[dashboard]\nsession_ttl = 1\n", {}, "unknown key(s) session_ttl"),
        ("[web]\n", {}, "unknown section(s) web"),
        ("", {"NOISEFLEET_DATABASE_URL": URL, "NOISEFLEET_DASHBOARD_LOCK_S": "x"}, "lock_s"),
        ("", {"NOISEFLEET_DATABASE_URL": URL, "NOISEFLEET_DASHBOARD_LOCK_S": "0"}, "greater"),
        ("", {"NOISEFLEET_DATABASE_URL": "mysql://h/db"}, "postgresql://"),
        ("[dashboard\n", {}, "not valid TOML"),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, text: str, env: dict[str, str], message: str):
    path = tmp_path / "dashboard.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        load_config(path, env)
    assert "\n" not in str(error.value)


def test_the_broker_is_configured_like_the_servers(tmp_path: Path):
    (tmp_path / "mqtt-pw").write_text("b r\n")
    path = tmp_path / "dashboard.toml"
    path.write_text(
        f'[database]\nurl = "{URL}"\n[mqtt]\nurl = "mqtt://dash@broker:1883"\n'
        'password_file = "mqtt-pw"\n'
    )
    assert load_config(path, {}).mqtt.url == "mqtt://dash:b%20r@broker:1883"
    env = {"NOISEFLEET_MQTT_URL": "mqtt://other:1884", "NOISEFLEET_DASHBOARD_COMMAND_WAIT_S": "2"}
    config = load_config(None, {"NOISEFLEET_DATABASE_URL": URL, **env})
    assert (config.mqtt.url, config.dashboard.command_wait_s) == ("mqtt://other:1884", 2.0)
    path.write_text(f'[database]\nurl = "{URL}"\n[mqtt]\nurl = "mqtt://u:pw@broker:1883"\n')
    with pytest.raises(ConfigError, match=r"mqtt\.url: do not put the password in the file"):
        load_config(path, {})
