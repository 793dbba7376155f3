"""Benchmark: the sound level meter's real-time factor and memory on one core.

Prints, for one hour of 48 kHz audio fed in blocks the way the CLI and a live microphone feed it:
- the real-time factor (audio seconds per CPU second) of the meter alone, median of 3 runs,
  for 0.1 s, 1 s and 65536-sample blocks;
- the real-time factor of ``analyze`` on a 10-minute PCM_16 WAV file (decoding included);
- the peak resident memory of the process.

Run with ``make bench`` (or ``.venv/bin/python bench/bench_meter.py [--minutes 60]``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, stable timings

import argparse
import io
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile as sf

from noisefleet_core.acoustics.meter import MeterSettings, SoundLevelMeter
from noisefleet_edge.analyze_command import measure_recording
from noisefleet_edge.audio_files import open_recording
from noisefleet_edge.detection import LevelsOnly
from noisefleet_edge.output import JsonLinesWriter

FS = 48000
GOAL_RTF = 500.0


def _minute_of_audio(rng: np.random.Generator) -> np.ndarray:
    n = 60 * FS
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / FS)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    x *= 0.02 / np.sqrt(np.mean(x * x))
    t = np.arange(n) / FS
    x += 0.2 * np.sin(2 * np.pi * 800 * t) * ((t % 10) < 1.5)  # a loud event every 10 s
    return x


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def meter_rtf(minute: np.ndarray, minutes: int, block: int) -> tuple[float, int]:
    meter = SoundLevelMeter(MeterSettings(FS, interval_s=1.0, calibration_offset_db=120.0))
    records = 0
    start = time.process_time()
    for _ in range(minutes):
        for i in range(0, minute.size, block):
            records += len(meter.process(minute[i : i + block]))
    elapsed = time.process_time() - start
    return minutes * 60 / elapsed, records


def file_rtf(minute: np.ndarray, minutes: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.wav"
        with sf.SoundFile(path, "w", FS, 1, "PCM_16") as handle:
            for _ in range(minutes):
                handle.write(minute)
        recording = open_recording(path)
        settings = MeterSettings(FS, interval_s=1.0, calibration_offset_db=120.0)
        sink = JsonLinesWriter(io.StringIO())
        start = time.process_time()
        measure_recording(recording, 0, sink, LevelsOnly(settings, datetime.now(tz=UTC)))
        elapsed = time.process_time() - start
    return minutes * 60 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60, help="audio length (default 60)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    minute = _minute_of_audio(np.random.default_rng(1))
    SoundLevelMeter(MeterSettings(FS))  # design the filters outside the timed part
    print(f"sound level meter benchmark: {args.minutes} min of {FS} Hz audio, one core")
    print(f"baseline peak RSS (numpy, test audio): {_peak_rss_mb():.0f} MB")
    for label, block in (("0.1 s blocks", FS // 10), ("1 s blocks", FS), ("65536-sample", 65536)):
        rtfs = []
        records = 0
        for _ in range(args.runs):
            rtf, records = meter_rtf(minute, args.minutes, block)
            rtfs.append(rtf)
        median = statistics.median(rtfs)
        spread = ", ".join(f"{r:.0f}" for r in rtfs)
        verdict = "meets" if median >= GOAL_RTF else "MISSES"
        print(
            f"meter, {label:>13}: median {median:6.0f}x real time ({spread}); {records} records; "
            f"{verdict} the {GOAL_RTF:.0f}x goal"
        )
    file_minutes = min(10, args.minutes)
    print(
        f"analyze a {file_minutes} min PCM_16 WAV (decode + meter + JSON): "
        f"{file_rtf(minute, file_minutes):.0f}x real time"
    )
    print(f"peak RSS: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
