"""Synthetic recordings, CLI results and the console-script runner for the edge tests."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

FS = 48000
TONE_HZ = 1000.0
CONSOLE_SCRIPT = Path(sys.executable).parent / "noisefleet-edge"


def sine(
    amplitude: float, seconds: float, fs: int = FS, freq: float = TONE_HZ, phase: float = 0.0
) -> np.ndarray:
    """A sine of peak ``amplitude``: it reads 20*lg(amplitude) dBFS (AES17)."""
    t = np.arange(round(seconds * fs)) / fs
    return amplitude * np.sin(2 * np.pi * freq * t + phase)


def write(
    path: Path,
    data: np.ndarray,
    fs: int = FS,
    subtype: str | None = None,
    format: str | None = None,
) -> Path:
    sf.write(str(path), data, fs, subtype=subtype, format=format)
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def all_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    @property
    def records(self) -> list[dict[str, Any]]:
        """The level records (events are in ``events``)."""
        return [r for r in self.all_records if r["kind"] == "levels"]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [r for r in self.all_records if r["kind"] == "event"]

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err_lines if line.startswith("noisefleet-edge: error:")]

    @property
    def warning_lines(self) -> list[str]:
        return [line for line in self.err_lines if line.startswith("noisefleet-edge: warning:")]


def run_console_script(*args: object, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the installed ``noisefleet-edge`` command as a user would."""
    assert CONSOLE_SCRIPT.exists(), f"console script missing: {CONSOLE_SCRIPT}"
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
