"""The acoustic scene around a dry source: distance, room, microphone, and mixing with a bed.

Steps for one source (``propagate``, a single FFT pass):
1. air absorption and excess attenuation grow with distance and with frequency squared;
2. the direct sound falls as 1/r while the room's diffuse field does not, so the reverberant
   share grows with distance: direct and reverberant energies are equal at the room's critical
   distance;
3. the microphone colours everything it records: a spectral tilt and a second-order low cut.
Then ``mix_clip`` scales the bed against the source to the requested SNR and sets the clip level.

Distance shapes the spectrum and the direct-to-reverberant ratio; the level a source reaches is
set by the SNR (so distance and SNR are not double counted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dsp import (
    SPEED_OF_SOUND_M_S,
    FloatArray,
    exp_decay,
    fast_length,
    highpass,
    lowpass,
    rfft_freqs,
    white,
)
from .settings import GeneratorSettings, RoomKind

AIR_ABSORPTION_DB_PER_M_AT_1KHZ = 0.005
"""Attenuation per metre at 1 kHz, growing with frequency squared: about three times ISO 9613-1
air absorption, the rest standing for ground, foliage and obstacles a street adds."""
PEAK_LIMIT = 0.98


@dataclass(frozen=True)
class Room:
    """Where the sound travels: open air, a diffuse room or yard, or a street canyon."""

    kind: RoomKind
    rt60_s: float
    critical_distance_m: float
    """Distance at which direct and reverberant energy are equal."""


@dataclass(frozen=True)
class Microphone:
    """The recording chain's colouration, applied to source and bed alike."""

    tilt_db_per_octave: float
    lowcut_hz: float

    def gain(self, freqs_hz: FloatArray) -> FloatArray:
        """Magnitude response on a frequency grid: tilt about 1 kHz times a 2nd-order high-pass."""
        # (f / 1 kHz) ** (tilt / 6.02) is the tilt; single precision: float64 powers are slow.
        relative = (np.maximum(freqs_hz, 20.0) / 1000.0).astype(np.float32)
        tilt = relative ** np.float32(self.tilt_db_per_octave / (20.0 * np.log10(2.0)))
        ratio = ((freqs_hz / self.lowcut_hz) ** 2).astype(np.float32)
        return np.asarray(tilt * ratio / np.sqrt(1.0 + ratio**2), dtype=np.float64)


def draw_room(rng: np.random.Generator, settings: GeneratorSettings) -> Room:
    kind: RoomKind = settings.rooms[int(rng.integers(len(settings.rooms)))]
    if kind == "open":
        return Room("open", 0.0, rng.uniform(30.0, 80.0))
    span = (1.5, 5.0) if kind == "diffuse" else (3.0, 10.0)
    return Room(kind, settings.rt60_s.sample(rng), rng.uniform(*span))


def draw_microphone(rng: np.random.Generator, settings: GeneratorSettings) -> Microphone:
    return Microphone(
        settings.mic_tilt_db_per_octave.sample(rng), settings.mic_lowcut_hz.sample(rng)
    )


def _diffuse_tail(rng: np.random.Generator, fs: int, rt60_s: float) -> FloatArray:
    """Exponentially decaying noise whose highs die faster than its lows (as in real rooms)."""
    n = max(2, round(rt60_s * fs))
    tau = rt60_s / np.log(1000.0)  # amplitude falls 60 dB over rt60
    noise = white(rng, n)
    low, high = lowpass(noise, 500.0, fs), highpass(noise, 4000.0, fs)
    mid = noise - low - high
    return (
        low * exp_decay(n, fs, tau * 1.15)
        + mid * exp_decay(n, fs, tau)
        + high * exp_decay(n, fs, tau * 0.55)
    )


def impulse_response(rng: np.random.Generator, room: Room, fs: int) -> FloatArray:
    """The room's reverberant response (the direct sound excluded), scaled to unit energy."""
    if room.kind == "open":
        # A ground reflection a few milliseconds late, and faint scattering from what is near.
        n = round(0.15 * fs)
        ir = 0.05 * _diffuse_tail(rng, fs, 0.15)[:n]
        ir[round(rng.uniform(0.002, 0.01) * fs)] += rng.uniform(0.4, 0.9)
        return normalise_energy(ir)
    tail = _diffuse_tail(rng, fs, room.rt60_s)
    ir = np.zeros(tail.size + round(0.02 * fs))
    predelay = round(rng.uniform(0.003, 0.02) * fs)
    ir[predelay : predelay + tail.size] += tail[: ir.size - predelay]
    if room.kind == "diffuse":
        for delay in rng.uniform(0.004, 0.06, int(rng.integers(4, 11))):
            ir[round(delay * fs)] += rng.uniform(-1.0, 1.0) * 3.0
    else:
        # Street canyon: flutter echoes between facades, losing a little on each bounce.
        spacing = rng.uniform(10.0, 40.0) / SPEED_OF_SOUND_M_S
        bounce_gain = 10.0 ** (-3.0 * spacing / room.rt60_s)
        echoes = np.zeros(ir.size)
        for bounce in range(1, int(room.rt60_s / spacing) + 1):
            at = round(bounce * spacing * fs * rng.uniform(0.98, 1.02))
            if at < echoes.size:
                echoes[at] += 6.0 * bounce_gain**bounce
        ir = 0.4 * ir + lowpass(echoes, rng.uniform(2000.0, 5000.0), fs)
    return normalise_energy(ir)


def normalise_energy(x: FloatArray) -> FloatArray:
    energy = float(np.sum(x**2))
    return x / np.sqrt(energy) if energy > 0 else x


def air_absorption(freqs_hz: FloatArray, distance_m: float) -> FloatArray:
    """Magnitude gain of the extra high-frequency loss over ``distance_m``."""
    loss_db = AIR_ABSORPTION_DB_PER_M_AT_1KHZ * (freqs_hz / 1000.0) ** 2 * distance_m
    gain = np.exp((loss_db * (-np.log(10.0) / 20.0)).astype(np.float32))
    return np.asarray(gain, dtype=np.float64)


def propagate(
    source: FloatArray,
    fs: int,
    distance_m: float,
    room: Room,
    ir: FloatArray,
    microphone: Microphone | None = None,
) -> FloatArray:
    """The source as the microphone hears it: ``source.size + ir.size - 1`` samples.

    Level falls as 1/r for the direct sound; the reverberant part has a fixed level of
    1/critical distance. One FFT of the source and one of the response do all the work.
    """
    size = source.size + ir.size - 1
    nfft = fast_length(size)
    freqs = rfft_freqs(nfft, fs)
    path = air_absorption(freqs, distance_m)
    if microphone is not None:
        path = path * microphone.gain(freqs)
    spectrum = np.fft.rfft(source, nfft) * path
    response = 1.0 / distance_m + np.fft.rfft(ir, nfft) / room.critical_distance_m
    return np.fft.irfft(spectrum * response, nfft)[:size]


def colour(x: FloatArray, fs: int, microphone: Microphone) -> FloatArray:
    """Pass a signal (a bed) through the microphone's response."""
    size = fast_length(x.size)
    gain = microphone.gain(rfft_freqs(size, fs))
    return np.fft.irfft(np.fft.rfft(x, size) * gain, size)[: x.size]


@dataclass(frozen=True)
class Mix:
    """A mixed clip and its parts, all at the final level (``audio == source + bed``)."""

    audio: FloatArray
    source: FloatArray
    bed: FloatArray
    snr_db: float
    level_dbfs: float
    """RMS level actually reached (below the target when the peak limit lowered it)."""


def mix_clip(
    source: FloatArray,
    bed: FloatArray,
    snr_db: float,
    level_dbfs: float,
    extent: tuple[int, int] | None = None,
) -> Mix:
    """Mix a placed source with a bed at ``snr_db``, then set the clip's RMS to ``level_dbfs``.

    SNR is the source's mean power over ``extent`` (its audible samples; the whole clip when
    None) against the bed's mean power over the same samples, so a short bark in a long clip
    is measured where it sounds. The clip is then scaled to the target level, or lower so that
    its peak stays at or below 0.98: a mix never clips.
    """
    if source.shape != bed.shape:
        raise ValueError(f"source {source.shape} and bed {bed.shape} differ in shape")
    start, stop = extent if extent is not None else (0, source.size)
    if stop <= start:
        start, stop = 0, source.size
    source_power = float(np.mean(source[start:stop] ** 2))
    bed_power = float(np.mean(bed[start:stop] ** 2))
    if source_power > 0 and bed_power > 0:
        bed = bed * np.sqrt(source_power / (bed_power * 10.0 ** (snr_db / 10.0)))
    mixture = source + bed
    rms = float(np.sqrt(np.mean(mixture**2)))
    peak = float(np.max(np.abs(mixture)))
    if rms == 0:
        return Mix(mixture, source, bed, snr_db, -np.inf)
    gain = min(10.0 ** (level_dbfs / 20.0) / rms, PEAK_LIMIT / peak)
    return Mix(mixture * gain, source * gain, bed * gain, snr_db, 20.0 * np.log10(rms * gain))
