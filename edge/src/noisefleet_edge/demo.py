"""``noisefleet-edge demo``: the meter end to end without hardware.

Steps:
1. generate a calibrator recording (94 dB SPL, 1 kHz, on a microphone of -26 dBFS sensitivity,
   with mains hum, hiss and handling noise at both ends) and a one-minute street recording
   (traffic bed, a car passing, a horn, barking, a siren) through the same virtual microphone;
2. derive the calibration offset from the calibrator recording;
3. measure the street recording in 5 s intervals with that offset and print a table;
4. combine the intervals energy-correctly into the minute's LAeq and, from the summed level
   histograms, its LAF10/LAF50/LAF90;
5. run the sensor pipeline (level gate, default classifier, event detector) and print the
   sound events and what caused the loudest interval.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt
import soundfile as sf

from noisefleet_core.acoustics.calibration import analyze_calibrator_recording
from noisefleet_core.acoustics.combine import combine_levels
from noisefleet_core.acoustics.histogram import LevelHistogram, exceeded_level, merge_histograms
from noisefleet_core.acoustics.meter import MeterSettings
from noisefleet_core.events import DetectorSettings
from noisefleet_edge.audio_files import open_recording, read_blocks, read_channel
from noisefleet_edge.classifier import SoundClassifier, default_model_dir
from noisefleet_edge.demo_agent import publish_demo
from noisefleet_edge.detection import SensorPipeline
from noisefleet_edge.output import TableWriter

SAMPLE_RATE_HZ = 48000
MIC_SENSITIVITY_DBFS = -26.0  # what the virtual microphone reads for 94 dB SPL
DEMO_START = "2026-11-24T08:00:00Z"
DEMO_GATE_DB = 55.0

FloatArray = npt.NDArray[np.float64]


def _amplitude_for(level_db_spl: float) -> float:
    """Peak amplitude of a sine that reads ``level_db_spl`` through the virtual microphone."""
    dbfs = level_db_spl - 94.0 + MIC_SENSITIVITY_DBFS
    return float(10.0 ** (dbfs / 20.0))


def _scale_to(x: FloatArray, level_db_spl: float) -> FloatArray:
    """Scale ``x`` so its RMS matches a sine of the given level."""
    rms = float(np.sqrt(np.mean(x * x)))
    return np.asarray(x * (_amplitude_for(level_db_spl) / np.sqrt(2.0) / rms), dtype=np.float64)


def _pink_noise(n: int, rng: np.random.Generator) -> FloatArray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE_HZ)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    return np.asarray(np.fft.irfft(spectrum, n), dtype=np.float64)


def calibrator_recording(rng: np.random.Generator) -> FloatArray:
    fs = SAMPLE_RATE_HZ
    t = np.arange(6 * fs) / fs
    tone = _amplitude_for(94.0) * np.sin(2 * np.pi * 1000.0 * t)
    tone += _amplitude_for(50.0) * np.sin(2 * np.pi * 50.0 * t)  # mains hum
    handling = _scale_to(_pink_noise(fs, rng), 75.0)
    hiss = _scale_to(rng.standard_normal(8 * fs), 30.0)
    return np.concatenate([handling, tone, handling[::-1]]) + hiss


def street_recording(rng: np.random.Generator, seconds: int = 60) -> FloatArray:
    fs = SAMPLE_RATE_HZ
    n = seconds * fs
    x = _scale_to(_pink_noise(n, rng), 52.0)  # distant traffic

    def place(start_s: float, sound: FloatArray) -> None:
        i = round(start_s * fs)
        if i < n:  # a shorter street leaves out the sounds after its end
            x[i : i + sound.size] += sound[: n - i]

    # A car passing: low-frequency engine noise swelling and fading over 8 s.
    passing = _pink_noise(8 * fs, rng)
    passing *= np.hanning(passing.size) ** 2
    place(10.0, _scale_to(passing, 66.0))
    # A horn: two harmonic tones for 0.8 s.
    th = np.arange(round(0.8 * fs)) / fs
    horn = np.sin(2 * np.pi * 420 * th) + 0.7 * np.sin(2 * np.pi * 525 * th)
    horn *= np.minimum(1.0, np.minimum(th, th[::-1]) / 0.02)
    place(24.0, _scale_to(horn, 82.0))
    # A dog barking: short noisy bursts.
    bark_t = np.arange(round(0.15 * fs)) / fs
    bark = np.sin(2 * np.pi * 600 * bark_t * (1 + 0.5 * bark_t)) * np.exp(-bark_t / 0.05)
    bark += 0.3 * rng.standard_normal(bark.size) * np.exp(-bark_t / 0.04)
    for k in range(5):
        place(33.0 + 0.45 * k, _scale_to(bark, 72.0))
    # A siren sweeping between 650 and 1300 Hz for 9 s.
    ts = np.arange(9 * fs) / fs
    freq = 975 + 325 * np.sin(2 * np.pi * 0.25 * ts)
    siren = np.sin(2 * np.pi * np.cumsum(freq) / fs) * np.hanning(ts.size) ** 0.5
    place(45.0, _scale_to(siren, 74.0))
    return x


def run(output_dir: Path, out: TextIO) -> int:
    rng = np.random.default_rng(2026)
    output_dir.mkdir(parents=True, exist_ok=True)
    cal_path = output_dir / "calibrator-94dB.wav"
    street_path = output_dir / "street.wav"
    sf.write(cal_path, calibrator_recording(rng), SAMPLE_RATE_HZ, subtype="PCM_24")
    sf.write(street_path, street_recording(rng), SAMPLE_RATE_HZ, subtype="PCM_24")
    out.write(f"generated {cal_path} and {street_path}\n\n")

    cal = open_recording(cal_path)
    result = analyze_calibrator_recording(read_channel(cal), cal.sample_rate_hz)
    out.write(
        f"1. calibrate {cal_path.name}: offset {result.offset_db:.2f} dB "
        f"(sensitivity {result.sensitivity_dbfs:.2f} dBFS; the virtual microphone has "
        f"{MIC_SENSITIVITY_DBFS:.2f}), tone {result.tone_hz:.1f} Hz, SNR {result.snr_db:.0f} dB, "
        f"fluctuation {result.fluctuation_db:.3f} dB\n\n"
    )

    # One pass of the sensor pipeline gives the level records, the events and the energy shares.
    street = open_recording(street_path)
    start = datetime.fromisoformat(DEMO_START)
    classifier = SoundClassifier(default_model_dir())
    pipeline = SensorPipeline(
        MeterSettings(
            sample_rate_hz=street.sample_rate_hz,
            interval_s=5.0,
            calibration_offset_db=result.offset_db,
            calibrated=True,
            clip_level=street.clip_level,
        ),
        classifier,
        # The street's traffic bed is 46 dB(A): gate the classifier above it.
        DetectorSettings(classifier.labels, gate_level_db=DEMO_GATE_DB),
        start,
        None,
        0,
    )
    wire = []
    for block in read_blocks(street):
        wire.extend(pipeline.process(block))
    wire.extend(pipeline.flush())
    levels = [r for r in wire if r["kind"] == "levels"]

    out.write(f"2. analyze {street_path.name} in 5 s intervals (dB SPL):\n")
    table = TableWriter(out)
    for record in levels:
        table.write(record)

    minute = combine_levels([r["laeq_db"] for r in levels], [r["duration_s"] for r in levels])
    histogram = merge_histograms(LevelHistogram.from_wire(r["laf_histogram"]) for r in levels)
    l10, l50, l90 = (exceeded_level(histogram, p) for p in (10.0, 50.0, 90.0))
    out.write(
        f"\n3. the whole minute, combined from the intervals: LAeq {minute.leq_db:.1f} dB over "
        f"{minute.covered_s:.0f} s; LAF10 {l10:.1f}, LAF50 {l50:.1f}, LAF90 {l90:.1f} dB "
        "(from the summed histograms)\n"
        "   (horn at 24 s, barking at 33 s and a siren at 45-54 s stand out above the traffic)\n"
    )

    out.write(
        f"\n4. sound events (default model, trained on synthetic sounds; the gate skipped "
        f"{pipeline.gate_stats.saved_fraction:.0%} of the classifier windows):\n"
    )
    for item in wire:
        if item["kind"] == "event":
            table.write(item)
    loudest = max(levels, key=lambda r: r["laeq_db"])
    shares = ", ".join(f"{k} {v:.0%}" for k, v in loudest["energy_shares"].items() if v >= 0.01)
    out.write(f"   what caused the loudest 5 s ({loudest['start']}): {shares}\n")
    publish_demo(street_path, result.offset_db, output_dir, out)
    return 0
