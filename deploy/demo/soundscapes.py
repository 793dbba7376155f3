"""Six synthetic soundscapes for the whole-system demo, in numpy only (no training, no TensorFlow).

Each is a seeded, loopable recording: a background bed at its own level plus the sounds of its
place (voices, footsteps, an HVAC hum, traffic with horns, a bus and a siren, dogs). Amplitudes
are for a microphone that reads ``MIC_SENSITIVITY_DBFS`` at 94 dB SPL (offset 120 dB).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
SAMPLE_RATE_HZ = 16000
MIC_SENSITIVITY_DBFS = -26.0


def _rms_for(level_db_spl: float) -> float:
    return float(10.0 ** ((level_db_spl - 94.0 + MIC_SENSITIVITY_DBFS) / 20.0) / np.sqrt(2.0))


def _scale(x: FloatArray, level_db_spl: float) -> FloatArray:
    rms = float(np.sqrt(np.mean(x * x))) or 1.0
    return np.asarray(x * (_rms_for(level_db_spl) / rms), dtype=np.float64)


def _pink(n: int, rng: np.random.Generator) -> FloatArray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE_HZ)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    return np.asarray(np.fft.irfft(spectrum, n), dtype=np.float64)


def _tone(seconds: float, freqs: list[float]) -> FloatArray:
    t = np.arange(round(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    x = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate(freqs))
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    return np.asarray(x * ramp, dtype=np.float64)


def _siren(seconds: float) -> FloatArray:
    t = np.arange(round(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    freq = 975 + 325 * np.sin(2 * np.pi * 0.25 * t)
    return np.asarray(
        np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE_HZ) * np.hanning(t.size) ** 0.5,
        dtype=np.float64,
    )


def _bark(rng: np.random.Generator) -> FloatArray:
    t = np.arange(round(0.15 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    x = np.sin(2 * np.pi * 600 * t * (1 + 0.5 * t)) * np.exp(-t / 0.05)
    return np.asarray(x + 0.3 * rng.standard_normal(t.size) * np.exp(-t / 0.04), np.float64)


class _Scene:
    def __init__(self, seconds: float, bed_db: float, rng: np.random.Generator) -> None:
        self.rng = rng
        self.x = _scale(_pink(round(seconds * SAMPLE_RATE_HZ), rng), bed_db)

    def place(self, start_s: float, sound: FloatArray, level_db: float) -> None:
        i = round(start_s * SAMPLE_RATE_HZ)
        n = self.x.size
        if i < n:
            self.x[i : i + sound.size] += _scale(sound, level_db)[: n - i]


def _courtyard(s: _Scene) -> None:
    for k in range(8):  # voices: vowel-like harmonic bursts
        s.place(5 + 6.5 * k, _tone(0.6, [180, 360, 720, 1080]), 62)


def _stairwell(s: _Scene) -> None:
    step = s.rng.standard_normal(round(0.05 * SAMPLE_RATE_HZ)) * np.hanning(800)
    for k in range(30):
        s.place(10 + 0.55 * k, step, 68)


def _rooftop(s: _Scene) -> None:
    s.place(0, _tone(60, [100, 200, 300]), 58)  # HVAC hum across the whole minute


def _crossing(s: _Scene) -> None:
    passing = _pink(8 * SAMPLE_RATE_HZ, s.rng) * np.hanning(8 * SAMPLE_RATE_HZ) ** 2
    for start in (4, 22, 40):
        s.place(start, passing, 72)
    for start in (15, 33, 51):
        s.place(start, _tone(0.8, [420, 525]), 84)


def _bus_stop(s: _Scene) -> None:
    s.place(8, _pink(10 * SAMPLE_RATE_HZ, s.rng) * np.hanning(10 * SAMPLE_RATE_HZ), 70)
    s.place(30, _siren(9), 80)


def _park_gate(s: _Scene) -> None:
    for start in (12, 38):
        for k in range(5):
            s.place(start + 0.45 * k, _bark(s.rng), 74)


SOUNDSCAPES: dict[str, tuple[float, Callable[[_Scene], None]]] = {
    "courtyard-voices": (40.0, _courtyard),
    "stairwell-footsteps": (35.0, _stairwell),
    "rooftop-hvac": (45.0, _rooftop),
    "traffic-horns": (58.0, _crossing),
    "bus-siren": (55.0, _bus_stop),
    "dogs-children": (48.0, _park_gate),
}
"""Name: (background bed in dB SPL, the sounds of the place)."""


def soundscape(name: str, seconds: float = 60.0, seed: int = 2026) -> FloatArray:
    """One minute (by default) of the named soundscape, clipped to full scale."""
    if name not in SOUNDSCAPES:
        raise ValueError(f"unknown soundscape {name!r}: one of {', '.join(SOUNDSCAPES)}")
    bed_db, sounds = SOUNDSCAPES[name]
    scene = _Scene(seconds, bed_db, np.random.default_rng(seed))
    sounds(scene)
    return np.asarray(np.clip(scene.x, -1.0, 1.0), dtype=np.float64)
