"""Reading real clips for YAMNet-based models, and open-set signals generated here.

``clip_signal`` reads a clip as a mono signal at the waveform model's rate and pads a clip
shorter than one window with silence on both sides (a 0.5 s shot fills no 0.975 s window
otherwise); every approach in the comparison gets the same padded signal.

``open_set_signals`` are sounds outside the classes that must never become one: pure tones
(calibration tones and test signals), sweeps, speech (espeak-ng, when installed), noise. Training
and testing draw them with different seeds, frequencies, voices and sentences.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from noisefleet_core.features.resample import resample
from noisefleet_training.datasets.base import LabelledSegment, load_audio

FloatArray = npt.NDArray[np.float64]
PAD_TO_S = 1.0


def read_mono(path: Path, fs: int) -> FloatArray:
    """A file as a mono float64 signal at ``fs`` (the training loaders' reader)."""
    return np.asarray(load_audio(LabelledSegment(path, "clip", None), fs), dtype=np.float64)


def pad_to_window(x: FloatArray, fs: int, seconds: float = PAD_TO_S) -> FloatArray:
    need = round(seconds * fs)
    if x.size >= need:
        return x
    left = (need - x.size) // 2
    return np.concatenate([np.zeros(left), x, np.zeros(need - x.size - left)])


def clip_signal(path: Path, fs: int) -> FloatArray:
    return pad_to_window(read_mono(path, fs), fs)


def speech(text: str, voice: str, fs: int) -> FloatArray | None:
    """``text`` spoken by espeak-ng with ``voice`` at ``fs``; None when espeak-ng is missing."""
    if shutil.which("espeak-ng") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, capture_output=True
        )
        return read_mono(wav, fs)


TRAIN_SPEECH = (
    ("en", "The meeting starts at nine, please bring the reports from last week."),
    ("en-us", "Turn left at the next corner and walk two blocks to the station."),
    ("de", "Heute ist das Wetter schön, wir gehen am Nachmittag in den Park."),
    ("es", "El tren sale a las ocho y llega a la ciudad antes del mediodía."),
)
TEST_SPEECH = (
    ("en-gb", "Could you tell me where the nearest pharmacy is, please?"),
    ("fr", "Nous avons rendez-vous demain matin devant la mairie."),
    ("it", "La biblioteca resta aperta fino alle sette di sera."),
)


def open_set_signals(
    fs: int, seed: int, speech_lines: tuple[tuple[str, str], ...]
) -> dict[str, FloatArray]:
    """Named signals of 3 s outside the classes (tones, sweeps, noise, speech)."""
    rng = np.random.default_rng(seed)
    t = np.arange(3 * fs) / fs
    out: dict[str, FloatArray] = {}
    for f in rng.uniform(150, 6000, 6):
        out[f"tone_{f:.0f}hz"] = 0.3 * np.sin(2 * np.pi * f * t)
    f0, f1 = sorted(rng.uniform(100, 6000, 2))
    out["sweep"] = 0.3 * np.sin(2 * np.pi * (f0 + (f1 - f0) * t / (2 * t[-1])) * t)
    out["white_noise"] = 0.05 * rng.standard_normal(t.size)
    out["pink_noise"] = _pink(rng, t.size)
    out["silence"] = np.zeros(t.size)
    for voice, text in speech_lines:
        spoken = speech(text, voice, fs)
        if spoken is not None:
            out[f"speech_{voice}"] = spoken
    return out


def _pink(rng: np.random.Generator, n: int) -> FloatArray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
    x = np.fft.irfft(spectrum, n)
    return np.asarray(0.1 * x / np.max(np.abs(x)), dtype=np.float64)


def resampled(x: FloatArray, fs_in: int, fs_out: int) -> FloatArray:
    return np.asarray(resample(x, fs_in, fs_out), dtype=np.float64)
