"""Benchmark: how long ``noisefleet-edge`` takes to start, and ``analyze`` end to end.

Prints, as medians of ``--runs`` fresh processes (wall clock, so start-up is included):
1. ``noisefleet-edge --help`` and ``noisefleet-edge analyze --help`` (argument parsing only);
2. ``noisefleet-edge calibrate`` of a 10 s calibrator recording and ``analyze --no-events`` of a
   1 s recording (start-up plus the smallest real work);
3. ``analyze`` of a 10-minute 48 kHz PCM_16 WAV with and without events, as a real-time factor
   (audio seconds per wall second, start-up included).

Run with ``make bench`` or ``.venv/bin/python bench/bench_cli.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

EDGE = Path(sys.executable).parent / "noisefleet-edge"
FS = 48000
GOAL_START_S = 0.5
GOAL_ANALYZE_RTF = 300.0


def _wall_s(args: list[str], runs: int) -> tuple[float, list[float]]:
    env = dict(os.environ)
    env.pop("OPENBLAS_NUM_THREADS", None)  # the entry point must not need it
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(EDGE), *args], env=env, check=True, capture_output=True)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), timings


def _recordings(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(1)
    t = np.arange(10 * FS) / FS
    paths = {name: folder / f"{name}.wav" for name in ("calibrator", "short", "ten_minutes")}
    sf.write(paths["calibrator"], 0.05 * np.sin(2 * np.pi * 1000 * t), FS, "PCM_24")
    sf.write(paths["short"], 0.02 * rng.standard_normal(FS), FS, "PCM_16")
    with sf.SoundFile(paths["ten_minutes"], "w", FS, 1, "PCM_16") as handle:
        for _ in range(10):
            minute = 0.02 * rng.standard_normal(60 * FS)
            minute += (
                0.2
                * np.sin(2 * np.pi * 800 * np.arange(minute.size) / FS)
                * ((np.arange(minute.size) / FS % 10) < 1.5)
            )
            handle.write(minute)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"noisefleet-edge start-up, median of {args.runs} fresh processes (wall clock)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = _recordings(Path(tmp))
        starts = {
            "--help": ["--help"],
            "analyze --help": ["analyze", "--help"],
            "calibrate (10 s recording)": ["calibrate", str(paths["calibrator"])],
            "analyze --no-events (1 s)": ["analyze", "--no-events", str(paths["short"])],
        }
        for label, command in starts.items():
            median, timings = _wall_s(command, args.runs)
            spread = ", ".join(f"{t:.2f}" for t in timings)
            verdict = "meets" if median < GOAL_START_S else "MISSES"
            print(f"{label:>28}: {median:.3f} s ({spread}); {verdict} the {GOAL_START_S} s goal")
        analyze = ["analyze", "--calibration-offset-db", "120", str(paths["ten_minutes"])]
        for label, command in (
            ("analyze 10 min, levels", [*analyze, "--no-events"]),
            ("analyze 10 min, events", analyze),
        ):
            median, _ = _wall_s(command, max(1, args.runs // 2))
            rtf = 600.0 / median
            verdict = "meets" if rtf >= GOAL_ANALYZE_RTF else "MISSES"
            print(
                f"{label:>28}: {median:.2f} s, {rtf:.0f}x real time incl. start-up; {verdict} "
                f"the {GOAL_ANALYZE_RTF:.0f}x goal"
            )


if __name__ == "__main__":
    main()
