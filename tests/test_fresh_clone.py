"""What a new user does first, from a fresh clone of this repository: ``make demo``.

The clone is of the checked-out commit, with this working tree's changes (tracked and untracked,
not ignored) copied over it, so the test runs the code under review. Its ``scripts/setup.sh``
builds its own ``.venv`` from ``uv.lock`` with the same uv cache as ours: a few seconds, no
downloads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def _fresh_clone(target: Path) -> Path:
    """``git clone`` of ROOT's commit, plus ROOT's uncommitted changes."""
    _git("clone", "--quiet", "--shared", str(ROOT), str(target))
    _git("checkout", "--quiet", _git("rev-parse", "HEAD").strip(), cwd=target)
    for name in _git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for name in _git("ls-files", "-z", "--deleted").split("\0"):
        if name:
            (target / name).unlink(missing_ok=True)
    return target


def test_make_demo_runs_from_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None or shutil.which("make") is None:
        pytest.fail("git and make are needed (apt-get install git make)")
    clone = _fresh_clone(tmp_path / "noisefleet")
    # A virtual environment of ours must not leak into the clone's own.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    result = subprocess.run(
        ["make", "demo"],
        check=False,
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    # The edge part of the demo got as far as publishing over MQTT, within the contract.
    assert "status online -> stopped; 0 message(s) broke the contract" in result.stdout
    assert (clone / "demo-output" / "street.wav").is_file()
