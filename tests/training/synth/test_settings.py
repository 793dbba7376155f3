"""Presets: valid spans, and held-out settings that really lie outside the training ones."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from noisefleet_training.synth.settings import (
    CLASSES,
    DISJOINT_SCENE_FIELDS,
    DISJOINT_SOURCE_FIELDS,
    HELDOUT_SETTINGS,
    TRAIN_SETTINGS,
    SettingsError,
    SourceRanges,
    Span,
    preset,
    span_fields,
)

URBANSOUND8K_ORDER = [
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
]


def test_classes_are_in_the_official_urbansound8k_order() -> None:
    assert list(CLASSES) == URBANSOUND8K_ORDER


def test_span_samples_stay_inside_and_cover_every_interval() -> None:
    span = Span.flanks(0.0, 1.0, 3.0, 5.0)
    rng = np.random.default_rng(0)
    values = np.array([span.sample(rng) for _ in range(2000)])
    assert all(span.contains(v) for v in values)
    assert not np.any((values > 1.0) & (values < 3.0))
    # Chosen in proportion to width: [3, 5] is twice as wide as [0, 1].
    assert 0.6 < np.mean(values >= 3.0) < 0.73


def test_span_overlap_ignores_shared_boundaries() -> None:
    assert not Span.of(1, 2).overlaps(Span.of(2, 3))
    assert Span.of(1, 2.5).overlaps(Span.flanks(0, 0.5, 2, 3))
    assert not Span.of(1, 2).overlaps(Span.flanks(0, 1, 2, 3))


@pytest.mark.parametrize(
    "intervals", [(), ((2.0, 1.0),), ((0.0, 2.0), (1.0, 3.0)), ((0.0, float("nan")),)]
)
def test_bad_spans_are_refused(intervals: tuple[tuple[float, float], ...]) -> None:
    with pytest.raises(SettingsError):
        Span(intervals)


def test_bad_source_ranges_are_refused() -> None:
    good = TRAIN_SETTINGS.source("siren")
    with pytest.raises(SettingsError, match="count"):
        dataclasses.replace(good, count=(0, 2))
    with pytest.raises(SettingsError, match="modulation"):
        dataclasses.replace(good, modulation=Span.of(0.5, 1.5))


def test_settings_need_every_class_and_known_kinds() -> None:
    sources = dict(TRAIN_SETTINGS.sources)
    del sources["siren"]
    with pytest.raises(SettingsError, match="siren"):
        dataclasses.replace(TRAIN_SETTINGS, sources=sources)
    with pytest.raises(SettingsError, match="backgrounds"):
        dataclasses.replace(TRAIN_SETTINGS, backgrounds=())


@pytest.mark.parametrize("label", CLASSES)
@pytest.mark.parametrize("field", DISJOINT_SOURCE_FIELDS)
def test_heldout_source_ranges_are_disjoint_from_training(label: str, field: str) -> None:
    train = getattr(TRAIN_SETTINGS.source(label), field)
    heldout = getattr(HELDOUT_SETTINGS.source(label), field)
    assert not train.overlaps(heldout), (label, field, train, heldout)
    # Flanks on both sides: held-out tests extrapolation downwards and upwards.
    assert heldout.low < train.low
    assert heldout.high > train.high


@pytest.mark.parametrize("field", DISJOINT_SCENE_FIELDS)
def test_heldout_scene_ranges_are_disjoint_from_training(field: str) -> None:
    train, heldout = getattr(TRAIN_SETTINGS, field), getattr(HELDOUT_SETTINGS, field)
    assert not train.overlaps(heldout), (field, train, heldout)


def test_heldout_uses_other_backgrounds_and_rooms() -> None:
    assert not set(TRAIN_SETTINGS.backgrounds) & set(HELDOUT_SETTINGS.backgrounds)
    assert set(TRAIN_SETTINGS.rooms) != set(HELDOUT_SETTINGS.rooms)
    assert "canyon" in HELDOUT_SETTINGS.rooms
    assert "canyon" not in TRAIN_SETTINGS.rooms
    assert "open" in TRAIN_SETTINGS.rooms
    assert "open" not in HELDOUT_SETTINGS.rooms


def test_the_documented_disjoint_fields_are_all_the_fields_that_differ() -> None:
    """Anything that differs between presets is declared (and so tested) as disjoint."""
    for label in CLASSES:
        train, heldout = TRAIN_SETTINGS.source(label), HELDOUT_SETTINGS.source(label)
        differing = {
            name for name, span in span_fields(train).items() if span != getattr(heldout, name)
        }
        assert differing == set(DISJOINT_SOURCE_FIELDS), label
        assert train.count == heldout.count
    scene_differing = {
        name
        for name, span in span_fields(TRAIN_SETTINGS).items()
        if span != getattr(HELDOUT_SETTINGS, name)
    }
    assert scene_differing == set(DISJOINT_SCENE_FIELDS)


def test_presets_by_name() -> None:
    assert preset("train") is TRAIN_SETTINGS
    assert preset("heldout") is HELDOUT_SETTINGS
    with pytest.raises(SettingsError, match="unknown preset"):
        preset("validation")
    with pytest.raises(SettingsError, match="unknown class"):
        TRAIN_SETTINGS.source("lawnmower")


def test_source_ranges_draw_counts_within_range() -> None:
    ranges: SourceRanges = TRAIN_SETTINGS.source("dog_bark")
    rng = np.random.default_rng(1)
    counts = {ranges.draw_count(rng) for _ in range(200)}
    assert counts == set(range(ranges.count[0], ranges.count[1] + 1))
