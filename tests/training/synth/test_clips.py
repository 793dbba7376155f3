"""Clips: deterministic, bounded, correctly mixed, and the classes differ as they should."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_training.synth.clips import clip_rng, generate_clip, render_clip
from noisefleet_training.synth.scene import (
    Microphone,
    Room,
    air_absorption,
    impulse_response,
    mix_clip,
    propagate,
)
from noisefleet_training.synth.settings import CLASSES, HELDOUT_SETTINGS, TRAIN_SETTINGS

FS = 16000
PRESETS = [TRAIN_SETTINGS, HELDOUT_SETTINGS]


def _centroid_hz(audio: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(audio)) ** 2
    return float(np.sum(power * np.fft.rfftfreq(audio.size, 1 / FS)) / np.sum(power))


def _crest_db(audio: np.ndarray) -> float:
    return float(20 * np.log10(np.max(np.abs(audio)) / np.sqrt(np.mean(audio**2))))


def test_same_seed_same_clip_other_seed_other_clip() -> None:
    first = generate_clip("siren", np.random.default_rng(5), TRAIN_SETTINGS, duration_s=2.0)
    again = generate_clip("siren", np.random.default_rng(5), TRAIN_SETTINGS, duration_s=2.0)
    other = generate_clip("siren", np.random.default_rng(6), TRAIN_SETTINGS, duration_s=2.0)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_clip_streams_differ_between_presets_and_items() -> None:
    a = clip_rng(0, TRAIN_SETTINGS, 3, 1).random(4)
    np.testing.assert_array_equal(a, clip_rng(0, TRAIN_SETTINGS, 3, 1).random(4))
    assert not np.array_equal(a, clip_rng(0, HELDOUT_SETTINGS, 3, 1).random(4))
    assert not np.array_equal(a, clip_rng(0, TRAIN_SETTINGS, 3, 2).random(4))


@pytest.mark.parametrize("settings", PRESETS, ids=["train", "heldout"])
@pytest.mark.parametrize("label", CLASSES)
def test_every_class_makes_finite_unclipped_clips_of_the_right_length(label: str, settings) -> None:
    for seed in range(3):
        clip = render_clip(label, np.random.default_rng(seed), settings, FS, 4.0)
        assert clip.audio.shape == (4 * FS,)
        assert np.all(np.isfinite(clip.audio))
        assert np.max(np.abs(clip.audio)) <= 0.98 + 1e-12
        np.testing.assert_allclose(clip.audio, clip.source + clip.bed, atol=1e-12)
        assert 0.0 <= clip.onset_s < clip.offset_s <= 4.0
        # The labelled extent holds the source: little of its energy lies outside it.
        inside = clip.source[round(clip.onset_s * FS) : round(clip.offset_s * FS)]
        assert np.sum(inside**2) > 0.99 * np.sum(clip.source**2)
        assert clip.level_dbfs <= settings.level_dbfs.high + 1e-9
        assert clip.backgrounds
        assert set(clip.backgrounds) <= set(settings.backgrounds)
        assert clip.room.kind in settings.rooms


def test_clip_level_is_the_drawn_level_unless_the_peak_limits_it() -> None:
    for seed in range(10):
        clip = render_clip("air_conditioner", np.random.default_rng(seed), TRAIN_SETTINGS, FS, 1.0)
        rms_db = 20 * np.log10(np.sqrt(np.mean(clip.audio**2)))
        assert rms_db == pytest.approx(clip.level_dbfs, abs=1e-6)
        assert TRAIN_SETTINGS.level_dbfs.low - 15 < rms_db <= TRAIN_SETTINGS.level_dbfs.high + 1e-6


def test_a_short_source_leaves_background_only_around_it() -> None:
    clip = render_clip("gun_shot", np.random.default_rng(3), TRAIN_SETTINGS, FS, 4.0)
    assert clip.offset_s - clip.onset_s < 3.0
    outside = np.concatenate(
        [clip.source[: round(clip.onset_s * FS)], clip.source[round(clip.offset_s * FS) :]]
    )
    assert np.max(np.abs(outside), initial=0.0) < 0.05 * np.max(np.abs(clip.source))


def _mean_statistic(label: str, statistic, count: int = 8) -> float:
    values = [
        statistic(
            render_clip(label, clip_rng(11, TRAIN_SETTINGS, i), TRAIN_SETTINGS, FS, 2.0).audio
        )
        for i in range(count)
    ]
    return float(np.mean(values))


def test_sirens_are_brighter_than_idling_engines() -> None:
    siren = _mean_statistic("siren", _centroid_hz)
    engine = _mean_statistic("engine_idling", _centroid_hz)
    assert siren > 2 * engine, (siren, engine)


def test_gun_shots_are_more_impulsive_than_air_conditioners() -> None:
    gun = _mean_statistic("gun_shot", _crest_db)
    air = _mean_statistic("air_conditioner", _crest_db)
    assert gun > air + 6, (gun, air)


def test_drilling_whines_higher_than_children_talk() -> None:
    drill = _mean_statistic("drilling", _centroid_hz)
    children = _mean_statistic("children_playing", _centroid_hz)
    assert drill > children, (drill, children)


@pytest.mark.parametrize("snr_db", [-3.0, 0.0, 10.0, 20.0])
def test_mixing_reaches_the_requested_snr(snr_db: float) -> None:
    """Independent check: a steady sine in white noise, energies measured on the mixture."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * FS) / FS
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    noise = rng.standard_normal(t.size)
    mix = mix_clip(tone, noise, snr_db, level_dbfs=-20.0)
    # Recover the tone's share by projection; what is left is the scaled noise.
    gain = np.dot(mix.audio, tone) / np.dot(tone, tone)
    residual = mix.audio - gain * tone
    measured = 10 * np.log10(np.mean((gain * tone) ** 2) / np.mean(residual**2))
    assert measured == pytest.approx(snr_db, abs=1.5)
    assert 20 * np.log10(np.sqrt(np.mean(mix.audio**2))) == pytest.approx(-20.0, abs=1e-6)


def test_rendered_clips_have_their_drawn_snr_over_the_source_extent() -> None:
    for label in ("dog_bark", "air_conditioner", "car_horn"):
        clip = render_clip(label, np.random.default_rng(2), TRAIN_SETTINGS, FS, 4.0)
        span = slice(round(clip.onset_s * FS), round(clip.offset_s * FS))
        measured = 10 * np.log10(np.mean(clip.source[span] ** 2) / np.mean(clip.bed[span] ** 2))
        assert measured == pytest.approx(clip.snr_db, abs=1.5)
        assert TRAIN_SETTINGS.snr_db.contains(clip.snr_db)


def test_mix_never_clips_a_loud_impulse() -> None:
    impulse = np.zeros(FS)
    impulse[100] = 1.0
    mix = mix_clip(impulse, np.random.default_rng(0).standard_normal(FS), 30.0, level_dbfs=-10.0)
    assert np.max(np.abs(mix.audio)) == pytest.approx(0.98)
    assert mix.level_dbfs < -10.0


def test_distance_dulls_and_rooms_add_reverberation() -> None:
    freqs = np.array([100.0, 1000.0, 8000.0])
    near, far = air_absorption(freqs, 2.0), air_absorption(freqs, 40.0)
    assert far[0] == pytest.approx(near[0], rel=1e-3)
    assert far[2] < 0.5 * near[2]
    room = Room("diffuse", 1.0, 3.0)
    ir = impulse_response(np.random.default_rng(0), room, FS)
    assert np.sum(ir**2) == pytest.approx(1.0)
    click = np.zeros(FS // 10)
    click[0] = 1.0

    def reverberant_share(distance_m: float) -> float:
        wet = propagate(click, FS, distance_m, room, ir, Microphone(0.0, 20.0))
        assert wet.size == click.size + ir.size - 1
        return float(np.sum(wet[16:] ** 2) / np.sum(wet**2))  # all but the first millisecond

    # Direct and reverberant energies are equal at the 3 m critical distance.
    assert reverberant_share(1.0) < 0.2
    assert 0.35 < reverberant_share(3.0) < 0.65
    assert reverberant_share(10.0) > 0.85
