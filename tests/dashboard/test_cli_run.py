"""``noisefleet-dashboard run`` starts a headless Streamlit server on the given address."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.server.helpers import wait_for
from tests.support.mosquitto import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = [sys.executable, "-m", "noisefleet_dashboard.cli"]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


def test_run_serves_the_app(tmp_path: Path):
    port = free_port()
    config = tmp_path / "dashboard.toml"
    config.write_text('[database]\nurl = "postgresql://dash@127.0.0.1:1/noisefleet"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOISEFLEET_")}
    log = (tmp_path / "run.log").open("wb")
    command = [*CLI, "--config", str(config), "run", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=tmp_path)
    try:
        health = wait_for(
            lambda: _get(f"http://127.0.0.1:{port}/_stcore/health"), 60, "the dashboard"
        )
        assert health == "ok"
        assert "<html" in (_get(f"http://127.0.0.1:{port}/") or "").lower()
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    text = (tmp_path / "run.log").read_text()
    assert f"127.0.0.1:{port}" in text


def test_run_refuses_a_bad_config_in_one_line():
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOISEFLEET_")}
    result = subprocess.run([*CLI, "run"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("noisefleet-dashboard: database.url: not set")
    assert result.stderr.count("\n") == 1
