"""Training one model: seeded, early-stopped, with switchable augmentations.

Steps of ``fit_model``:
1. fix every seed (Python, numpy, TensorFlow) and ask TensorFlow for deterministic ops;
2. feed training windows in shuffled batches, augmented on the fly (``augment``); with
   ``balance`` rare classes' windows repeat (``class_repeats``) so each epoch sees them as often
   as a typical class;
3. optionally decay the learning rate along a cosine (``cosine_decay``);
4. stop when the validation loss has not improved for ``patience`` epochs and keep the best
   weights.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from noisefleet_core.features.logmel import FeatureParams
from noisefleet_training.augment import augment_batch
from noisefleet_training.features import WindowSet
from noisefleet_training.model import build_model


@dataclass(frozen=True)
class FitSettings:
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 3e-3
    patience: int = 6
    width: int = 24
    dropout: float = 0.3
    augmentations: tuple[str, ...] = ("time_shift", "pitch_shift", "mixup", "specaugment")
    seed: int = 0
    verbose: int = 1
    balance: bool = False
    """Repeat the windows of rare classes within each epoch (``class_repeats``)."""
    cosine_decay: bool = False
    """Lower the learning rate along a cosine over all ``epochs`` (to 5 % of it), so the last
    epochs settle instead of hopping between minima."""


MAX_REPEAT = 3


def class_repeats(y: npt.NDArray[np.int64], n_classes: int) -> npt.NDArray[np.int64]:
    """Per class, how often its windows appear in an epoch: the median class count over its
    own, rounded, within 1..``MAX_REPEAT`` (absent classes: 1)."""
    counts = np.bincount(y, minlength=n_classes)
    present = counts[counts > 0]
    if present.size == 0:
        return np.ones(n_classes, dtype=np.int64)
    median = float(np.median(present))
    ratios = np.where(counts > 0, np.round(median / np.maximum(counts, 1)), 1)
    return np.asarray(np.clip(ratios, 1, MAX_REPEAT), dtype=np.int64)


def set_seeds(seed: int) -> None:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def limit_threads(threads: int) -> None:
    """One pool of ``threads`` for TensorFlow: its defaults oversubscribe small machines."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised in this process: keep what it has


def train_threads() -> int:
    """Threads for training: ``TF_NUM_INTRAOP_THREADS`` when set (a shared machine), else every
    CPU."""
    try:
        return max(1, int(os.environ["TF_NUM_INTRAOP_THREADS"]))
    except (KeyError, ValueError):
        return os.cpu_count() or 1


def _one_hot(y: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.float32]:
    return np.eye(n, dtype=np.float32)[y]


class _Batches(keras.utils.PyDataset):  # type: ignore[misc]
    def __init__(self, windows: WindowSet, settings: FitSettings, epoch_seed: int) -> None:
        super().__init__()
        self.windows = windows
        self.settings = settings
        self.rng = np.random.default_rng(epoch_seed)
        self.n_classes = len(windows.labels)
        self.pool = np.arange(len(windows))
        if settings.balance:
            self.pool = np.repeat(self.pool, class_repeats(windows.y, self.n_classes)[windows.y])
        self.order = self.rng.permutation(self.pool)

    def __len__(self) -> int:
        return math.ceil(self.pool.size / self.settings.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        size = self.settings.batch_size
        chosen = self.order[index * size : (index + 1) * size]
        x = self.windows.x[chosen]
        y = _one_hot(self.windows.y[chosen], self.n_classes)
        if self.settings.augmentations:
            x, y = augment_batch(x, y, self.settings.augmentations, self.rng)
        return x[..., np.newaxis], y

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(self.pool)


def fit_model(
    train: WindowSet,
    validation: WindowSet,
    params: FeatureParams,
    settings: FitSettings,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> keras.Model:
    limit_threads(train_threads())
    set_seeds(settings.seed)
    n_classes = len(train.labels)
    batches = _Batches(train, settings, settings.seed)
    steps_per_epoch = len(batches)
    # Let the normalisation statistics settle within about one epoch, however small the data.
    momentum = min(0.99, max(0.5, 1.0 - 2.0 / steps_per_epoch))
    model = build_model(params, n_classes, settings.width, settings.dropout, bn_momentum=momentum)
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = settings.learning_rate
    if settings.cosine_decay:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            settings.learning_rate, decay_steps=settings.epochs * steps_per_epoch, alpha=0.05
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=settings.patience, restore_best_weights=True
    )
    model.fit(
        batches,
        validation_data=(validation.x[..., np.newaxis], _one_hot(validation.y, n_classes)),
        epochs=settings.epochs,
        callbacks=[stop, *callbacks],
        verbose=settings.verbose,
    )
    return model


def predict(model: keras.Model, windows: WindowSet, batch_size: int = 256) -> np.ndarray:
    if len(windows) == 0:
        return np.empty((0, len(windows.labels)))
    return np.asarray(model.predict(windows.x[..., np.newaxis], batch_size=batch_size, verbose=0))
