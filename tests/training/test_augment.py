"""Augmentations keep shapes, respect their switches and mix labels correctly."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_training.augment import (
    AUGMENTATIONS,
    AugmentationError,
    augment_batch,
    parse_augmentations,
)


def _batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 62, 64)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=8)]
    return x, y


def test_no_augmentation_is_identity() -> None:
    x, y = _batch()
    ax, ay = augment_batch(x, y, (), np.random.default_rng(1))
    np.testing.assert_array_equal(ax, x)
    np.testing.assert_array_equal(ay, y)


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_each_augmentation_changes_windows_and_keeps_shapes(name: str) -> None:
    x, y = _batch()
    ax, ay = augment_batch(x, y, (name,), np.random.default_rng(3))
    assert ax.shape == x.shape
    assert ay.shape == y.shape
    assert ax.dtype == np.float32
    assert not np.array_equal(ax, x)
    np.testing.assert_allclose(ay.sum(axis=1), 1.0, rtol=1e-6)
    if name != "mixup":
        np.testing.assert_array_equal(ay, y)  # only mixup touches labels


def test_time_shift_is_a_roll() -> None:
    x, y = _batch()
    ax, _ = augment_batch(x[:1], y[:1], ("time_shift",), np.random.default_rng(5))
    shifts = [s for s in range(-16, 17) if np.array_equal(np.roll(x[0], s, axis=0), ax[0])]
    assert len(shifts) == 1


def test_same_seed_same_batch() -> None:
    x, y = _batch()
    a = augment_batch(x, y, AUGMENTATIONS, np.random.default_rng(9))
    b = augment_batch(x, y, AUGMENTATIONS, np.random.default_rng(9))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_parse_augmentations() -> None:
    assert parse_augmentations("mixup, specaugment") == ("mixup", "specaugment")
    with pytest.raises(AugmentationError, match="reverse"):
        parse_augmentations("mixup,reverse")
