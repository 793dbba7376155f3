"""Dry sources: every class renders finite, bounded audio of the asked length, reproducibly."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_training.synth.dsp import audible_extent, harmonic_series, phase_of, pulse_train
from noisefleet_training.synth.music import pluck
from noisefleet_training.synth.settings import CLASSES, HELDOUT_SETTINGS, TRAIN_SETTINGS
from noisefleet_training.synth.sources import SOURCES, generate_source

FS = 16000


def test_one_generator_per_class_in_class_order() -> None:
    assert tuple(SOURCES) == CLASSES


@pytest.mark.parametrize("label", CLASSES)
@pytest.mark.parametrize("settings", [TRAIN_SETTINGS, HELDOUT_SETTINGS], ids=["train", "heldout"])
def test_sources_are_finite_bounded_and_of_the_right_length(label: str, settings) -> None:
    for seed in range(3):
        for duration_s in (0.01, 0.3, 2.5):
            audio = generate_source(
                label, np.random.default_rng(seed), FS, duration_s, settings.source(label)
            )
            assert audio.dtype == np.float64
            assert audio.shape == (round(duration_s * FS),)
            assert np.all(np.isfinite(audio))
            assert np.max(np.abs(audio)) == pytest.approx(0.9, abs=1e-9)


@pytest.mark.parametrize("label", CLASSES)
def test_sources_are_deterministic_given_the_seed(label: str) -> None:
    ranges = TRAIN_SETTINGS.source(label)
    first = generate_source(label, np.random.default_rng(42), FS, 1.5, ranges)
    again = generate_source(label, np.random.default_rng(42), FS, 1.5, ranges)
    other = generate_source(label, np.random.default_rng(43), FS, 1.5, ranges)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("fs", [8000, 22050])
def test_sources_work_at_other_sample_rates(fs: int) -> None:
    for label in CLASSES:
        audio = generate_source(
            label, np.random.default_rng(0), fs, 1.0, TRAIN_SETTINGS.source(label)
        )
        assert audio.shape == (fs,)
        assert np.all(np.isfinite(audio))


def test_harmonic_series_matches_direct_sines() -> None:
    freq = np.full(FS, 220.0)
    phase = phase_of(freq, FS)
    amplitudes = np.array([1.0, 0.5, 0.0, 0.25])
    direct = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amplitudes))
    np.testing.assert_allclose(harmonic_series(phase, amplitudes), direct, atol=1e-5)


def test_harmonics_fade_out_before_the_limit() -> None:
    freq = np.full(FS, 1000.0)
    tone = harmonic_series(phase_of(freq, FS), np.ones(7), freq, limit_hz=4000.0)
    spectrum = np.abs(np.fft.rfft(tone))
    assert spectrum[3000] > 1000
    assert spectrum[5000] < 1e-3 * spectrum[1000]


def test_pulse_train_has_one_pulse_per_period() -> None:
    pulses = pulse_train(np.full(FS, 100.0), FS)
    assert pulses.sum() == pytest.approx(100, abs=1)


def test_pluck_has_the_string_pitch_and_decays() -> None:
    note = pluck(np.random.default_rng(0), FS, 200.0, FS, decay_s=0.5, bright=0.8)
    head = note[: FS // 4]
    lags = np.arange(40, 200)
    correlation = [np.dot(head[:-lag], head[lag:]) for lag in lags]
    assert lags[int(np.argmax(correlation))] == FS // 200  # the string repeats every period
    first, last = note[: FS // 10], note[-FS // 10 :]
    assert np.sqrt(np.mean(last**2)) < 0.01 * np.sqrt(np.mean(first**2))


def test_audible_extent_of_a_burst() -> None:
    audio = np.zeros(FS)
    audio[4000:8000] = np.sin(np.arange(4000) * 0.3)
    start, stop = audible_extent(audio, FS)
    assert abs(start - 4000) <= 160
    assert abs(stop - 8000) <= 160
    assert audible_extent(np.zeros(100), FS) == (0, 0)
