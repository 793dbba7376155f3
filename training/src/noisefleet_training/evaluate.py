"""Metrics of a classifier on feature windows: windows, clips (soft voting), classes, int8.

Clip-level results vote the windows of each clip with ``noisefleet_core.models.aggregate``, the
function the edge uses; the int8 figures run the exported folder through the edge's own
``SoundClassifier``, so what is reported is what the edge computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.fft import dct
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from noisefleet_core.models.aggregate import aggregate
from noisefleet_training.features import WindowSet

MFCC_COEFFICIENTS = 20


def clip_predictions(
    probabilities: npt.NDArray[np.float64], windows: WindowSet
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(true class, predicted class) per clip, windows voted by their mean probability.

    With non-event labels (``ambient``) the vote is among the event classes, as the edge's
    clip decision (``aggregate.decide``), and clips of background only are left out.
    """
    non_event = [windows.labels.index(label) for label in windows.non_event_labels]
    targets = windows.clip_targets
    truth, predicted = [], []
    for clip in np.unique(windows.clip):
        mask = windows.clip == clip
        label = int(targets[mask][0])
        if label in non_event:
            continue
        scores = aggregate(probabilities[mask], "mean")
        scores[non_event] = -1.0
        truth.append(label)
        predicted.append(int(np.argmax(scores)))
    return np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)


@dataclass(frozen=True)
class SplitMetrics:
    window_accuracy: float
    clip_accuracy: float
    clips: int
    windows: int
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]

    def to_json(self) -> dict[str, Any]:
        return {
            "window_accuracy": round(self.window_accuracy, 4),
            "clip_accuracy": round(self.clip_accuracy, 4),
            "clips": self.clips,
            "windows": self.windows,
            "per_class": self.per_class,
            "confusion_matrix": self.confusion,
        }


def split_metrics(probabilities: npt.NDArray[np.float64], windows: WindowSet) -> SplitMetrics:
    n = len(windows.labels)
    window_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == windows.y))
    truth, predicted = clip_predictions(probabilities, windows)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(range(n)), zero_division=0
    )
    per_class = {
        label: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
        }
        for i, label in enumerate(windows.labels)
    }
    matrix = confusion_matrix(truth, predicted, labels=list(range(n)))
    return SplitMetrics(
        window_accuracy=window_accuracy,
        clip_accuracy=float(np.mean(truth == predicted)),
        clips=int(truth.size),
        windows=len(windows),
        per_class=per_class,
        confusion=matrix.tolist(),
    )


def agreement(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Share of windows whose top class is the same under both models."""
    return float(np.mean(np.argmax(a, axis=1) == np.argmax(b, axis=1)))


def _mfcc_statistics(windows: WindowSet) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Per clip: mean and standard deviation of 20 MFCCs over all its frames (event clips only,
    like ``clip_predictions``)."""
    non_event = {windows.labels.index(label) for label in windows.non_event_labels}
    features, targets = [], []
    for clip in np.unique(windows.clip):
        mask = windows.clip == clip
        if int(windows.clip_targets[mask][0]) in non_event:
            continue
        frames = windows.x[mask].reshape(-1, windows.x.shape[-1])
        mfcc = dct(frames, type=2, norm="ortho", axis=1)[:, :MFCC_COEFFICIENTS]
        features.append(np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0)]))
        targets.append(int(windows.clip_targets[mask][0]))
    return np.asarray(features), np.asarray(targets, dtype=np.int64)


def baseline_clip_accuracy(train: WindowSet, test: WindowSet, seed: int = 0) -> float:
    """The classic baseline: MFCC statistics + logistic regression, same folds as the CNN."""
    x_train, y_train = _mfcc_statistics(train)
    x_test, y_test = _mfcc_statistics(test)
    classifier = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=3000, random_state=seed)
    )
    classifier.fit(x_train, y_train)
    return float(np.mean(classifier.predict(x_test) == y_test))
