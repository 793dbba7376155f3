"""``edge/requirements.lock`` installs with pip on a Raspberry Pi (aarch64, CPython 3.11).

uv writes the lock but the gateways install it with pip, which honours every Requires-Python
bound (uv ignores upper ones): resolve it with pip itself, wheels only, for the Pi's platform.
Needs PyPI (or the pip cache).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_the_edge_lock_installs_with_pip_on_a_raspberry_pi() -> None:
    result = subprocess.run(
        [ROOT / "scripts" / "check-edge-lock.sh", "3.11:aarch64"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "installs with pip on CPython 3.11 aarch64" in result.stdout
