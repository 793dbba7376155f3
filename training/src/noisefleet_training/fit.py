"""Training one model: seeded, early-stopped, with switchable augmentations.

Steps of ``fit_model``:
1. fix every seed (Python, numpy, TensorFlow) and ask TensorFlow for deterministic ops;
2. feed training windows in shuffled batches, augmented on the fly (``augment``);
3. stop when the validation loss has not improved for ``patience`` epochs and keep the best
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


def _one_hot(y: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.float32]:
    return np.eye(n, dtype=np.float32)[y]


class _Batches(keras.utils.PyDataset):  # type: ignore[misc]
    def __init__(self, windows: WindowSet, settings: FitSettings, epoch_seed: int) -> None:
        super().__init__()
        self.windows = windows
        self.settings = settings
        self.rng = np.random.default_rng(epoch_seed)
        self.order = self.rng.permutation(len(windows))
        self.n_classes = len(windows.labels)

    def __len__(self) -> int:
        return math.ceil(len(self.windows) / self.settings.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        size = self.settings.batch_size
        chosen = self.order[index * size : (index + 1) * size]
        x = self.windows.x[chosen]
        y = _one_hot(self.windows.y[chosen], self.n_classes)
        if self.settings.augmentations:
            x, y = augment_batch(x, y, self.settings.augmentations, self.rng)
        return x[..., np.newaxis], y

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.windows))


def fit_model(
    train: WindowSet,
    validation: WindowSet,
    params: FeatureParams,
    settings: FitSettings,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> keras.Model:
    limit_threads(os.cpu_count() or 1)
    set_seeds(settings.seed)
    n_classes = len(train.labels)
    steps_per_epoch = math.ceil(len(train) / settings.batch_size)
    # Let the normalisation statistics settle within about one epoch, however small the data.
    momentum = min(0.99, max(0.5, 1.0 - 2.0 / steps_per_epoch))
    model = build_model(params, n_classes, settings.width, settings.dropout, bn_momentum=momentum)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=settings.patience, restore_best_weights=True
    )
    model.fit(
        _Batches(train, settings, settings.seed),
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
