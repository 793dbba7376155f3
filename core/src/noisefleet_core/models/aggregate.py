"""From per-window class probabilities to one decision per clip.

Soft voting (the mean of the windows' probabilities) is the default, as in SB-CNN; ``max`` takes
each class's highest window probability (renormalised), ``majority`` counts each window's top
class. The clip is ``unknown`` when its best aggregated probability is below the model's
threshold: a closed-set classifier must be allowed to say "none of these".

With non-event labels (``ambient``: background, or sounds outside the classes), only the windows
where the event labels together outweigh the non-event ones vote, and their event scores are
renormalised: a 1 s bark in 4 s of background is a bark. A clip without such a window (silence,
a tone, speech that the model calls ``ambient``) is ``unknown``, however its small event scores
would share out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from noisefleet_core.models.manifest import AGGREGATIONS, UNKNOWN_LABEL

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ClipDecision:
    label: str
    """The winning label, or ``unknown``."""
    confidence: float
    """The winning class's aggregated probability (also when the clip is ``unknown``)."""
    scores: dict[str, float]


def aggregate(window_probabilities: npt.ArrayLike, method: str = "mean") -> FloatArray:
    """Aggregate (windows, classes) probabilities into (classes,) summing to 1."""
    probs = np.asarray(window_probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError("need a (windows, classes) array with at least one window")
    if method == "mean":
        out = probs.mean(axis=0)
    elif method == "max":
        out = probs.max(axis=0)
    elif method == "majority":
        out = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]).astype(np.float64)
    else:
        raise ValueError(f"unknown aggregation {method!r}; choose one of {', '.join(AGGREGATIONS)}")
    total = float(out.sum())
    return np.asarray(out / total if total > 0 else out, dtype=np.float64)


def decide(
    window_probabilities: npt.ArrayLike,
    labels: tuple[str, ...],
    method: str = "mean",
    unknown_threshold: float = 0.5,
    non_event_labels: Collection[str] = (),
) -> ClipDecision:
    """The clip's label, confidence and per-label scores (event labels only, summing to 1)."""
    probs = np.asarray(window_probabilities, dtype=np.float64)
    scores = aggregate(probs, method)
    if scores.shape[0] != len(labels):
        raise ValueError(f"{scores.shape[0]} scores for {len(labels)} labels")
    keep = [i for i, label in enumerate(labels) if label not in non_event_labels]
    if not keep:
        raise ValueError("every label is a non-event label: nothing to decide between")
    no_event_window = False
    if len(keep) < len(labels):
        others = [i for i in range(len(labels)) if i not in keep]
        event_mass = probs[:, keep].sum(axis=1)
        voting = event_mass > probs[:, others].sum(axis=1)
        no_event_window = not bool(voting.any())
        labels = tuple(labels[i] for i in keep)
        kept = aggregate(probs[voting] if voting.any() else probs, method)[keep]
        total = float(kept.sum())
        scores = np.asarray(kept / total if total > 0 else kept, dtype=np.float64)
    best = int(np.argmax(scores))
    confidence = float(scores[best])
    decided = confidence >= unknown_threshold and not no_event_window
    label = labels[best] if decided else UNKNOWN_LABEL
    return ClipDecision(
        label, confidence, {k: float(v) for k, v in zip(labels, scores, strict=True)}
    )
