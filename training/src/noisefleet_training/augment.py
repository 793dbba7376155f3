"""Switchable augmentations on standardised log-mel windows (numpy, seeded).

They act on features rather than audio so one feature pass serves every epoch:
- ``time_shift``: circular shift along time by up to 25 % of the window;
- ``time_stretch``: stretch along time by 0.8-1.25 (linear interpolation), cropped or wrapped;
- ``pitch_shift``: shift along the mel axis by up to 3 bands (about a whole tone to a third);
- ``noise_add``: Gaussian noise of standard deviation up to 0.3 (the windows have unit variance);
- ``mixup``: convex mixtures of two windows and their labels, weight ~ Beta(0.2, 0.2);
- ``specaugment``: one time mask (up to 10 frames) and one frequency mask (up to 8 bands).
For sound event detection avoid ``time_shift`` (it moves onsets), as the talk advises.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

AUGMENTATIONS = ("time_shift", "time_stretch", "pitch_shift", "noise_add", "mixup", "specaugment")
FloatArray = npt.NDArray[np.float32]


class AugmentationError(ValueError):
    pass


def parse_augmentations(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise AugmentationError(
            f"unknown augmentation(s) {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}"
        )
    return names


def _time_stretch(window: FloatArray, rng: np.random.Generator) -> FloatArray:
    frames = window.shape[0]
    factor = rng.uniform(0.8, 1.25)
    source = (np.arange(frames) / factor) % frames
    lower = np.floor(source).astype(np.int64)
    upper = (lower + 1) % frames
    weight = (source - lower)[:, None].astype(np.float32)
    return np.asarray((1 - weight) * window[lower] + weight * window[upper], dtype=np.float32)


def _pitch_shift(window: FloatArray, rng: np.random.Generator) -> FloatArray:
    shift = int(rng.integers(-3, 4))
    if shift == 0:
        return window
    out = np.roll(window, shift, axis=1)
    if shift > 0:
        out[:, :shift] = window[:, :1]
    else:
        out[:, shift:] = window[:, -1:]
    return out


def augment_batch(
    x: FloatArray,
    y: FloatArray,
    names: Sequence[str],
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray]:
    """Augment a batch of windows (batch, frames, mels) and one-hot labels (batch, classes)."""
    x = x.copy()
    y = y.copy()
    batch, frames, mels = x.shape
    for i in range(batch):
        if "time_shift" in names:
            x[i] = np.roll(x[i], int(rng.integers(-frames // 4, frames // 4 + 1)), axis=0)
        if "time_stretch" in names and rng.random() < 0.5:
            x[i] = _time_stretch(x[i], rng)
        if "pitch_shift" in names and rng.random() < 0.5:
            x[i] = _pitch_shift(x[i], rng)
        if "specaugment" in names:
            t = int(rng.integers(0, 11))
            t0 = int(rng.integers(0, frames - t + 1))
            x[i, t0 : t0 + t, :] = 0.0
            f = int(rng.integers(0, 9))
            f0 = int(rng.integers(0, mels - f + 1))
            x[i, :, f0 : f0 + f] = 0.0
        if "noise_add" in names:
            sigma = rng.uniform(0.0, 0.3)
            x[i] += np.asarray(rng.normal(0.0, sigma, size=(frames, mels)), dtype=np.float32)
    if "mixup" in names and batch > 1:
        lam = np.asarray(rng.beta(0.2, 0.2, size=batch), dtype=np.float32)
        partner = rng.permutation(batch)
        x = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[partner]
        y = lam[:, None] * y + (1 - lam[:, None]) * y[partner]
    return x, y
