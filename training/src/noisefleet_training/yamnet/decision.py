"""Choosing a YAMNet head's clip decision rule on cross-validated TRAIN clips (pure functions).

A rule is the blend weight of the trained head against the zero-shot mapping
(``Head("blend")``), the window aggregation (``mean`` or ``max``, as the edge's
``aggregate.decide``) and the ``unknown`` threshold. Steps of ``select_rule``:
1. for every candidate rule, decide each cross-validated clip with the edge's own ``decide``
   (a clip of ``ambient`` must come out ``unknown``);
2. score the rule, on the clips whose label the fold's head was trained on (``CvClip.seen``),
   by balanced clip accuracy: the mean over expected labels of the share of clips
   decided right, so 38 music clips weigh as much as one drill and rejecting background counts
   as one class;
3. keep the best; ties go to the higher threshold (fewer false alarms), then ``mean`` (steadier
   on long clips), then the larger blend weight (the trained head), in that order.
Nothing here reads audio or the TEST split: the caller passes out-of-fold probabilities.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from noisefleet_core.models.aggregate import decide
from noisefleet_core.models.manifest import UNKNOWN_LABEL

FloatArray = npt.NDArray[np.float64]
BLEND_GRID = (0.0, 0.3, 0.5, 0.7, 0.85, 1.0)
AGGREGATION_GRID = ("mean", "max")
THRESHOLD_GRID = (0.2, 0.3, 0.4, 0.5, 0.6)


@dataclass(frozen=True)
class CvClip:
    """One TRAIN clip's out-of-fold window probabilities under both heads."""

    label: str
    """Its label; a non-event label (``ambient``) expects ``unknown``."""
    trained: FloatArray
    """(windows, labels) probabilities of the head trained without the clip's fold."""
    zero_shot: FloatArray
    """(windows, labels) probabilities of the zero-shot mapping."""
    seen: bool = True
    """Whether the fold's head had training windows of this clip's label (always true for a
    non-event label). A class with one recording family has none once that family is held out,
    a handicap the final head, trained on every family, does not have."""


@dataclass(frozen=True)
class DecisionRule:
    blend: float
    """Weight of the trained head (1 - it for the zero-shot mapping)."""
    aggregation: str
    unknown_threshold: float


def blended(clip: CvClip, blend: float) -> FloatArray:
    """The window probabilities a ``Head("blend", blend=blend)`` gives."""
    return np.asarray(blend * clip.trained + (1.0 - blend) * clip.zero_shot, dtype=np.float64)


def balanced_accuracy(expected: Sequence[str], decided: Sequence[str]) -> float:
    """Mean over the expected labels of the share decided right (0 for no clips)."""
    per_label: dict[str, list[bool]] = defaultdict(list)
    for want, got in zip(expected, decided, strict=True):
        per_label[want].append(want == got)
    if not per_label:
        return 0.0
    return float(np.mean([np.mean(v) for v in per_label.values()]))


def expected_label(label: str, non_event_labels: Collection[str]) -> str:
    return UNKNOWN_LABEL if label in non_event_labels else label


def rule_decisions(
    clips: Sequence[CvClip],
    rule: DecisionRule,
    labels: tuple[str, ...],
    non_event_labels: Collection[str],
) -> list[str]:
    """Each clip's decided label under ``rule`` (the edge's ``decide``)."""
    return [
        decide(
            blended(clip, rule.blend),
            labels,
            rule.aggregation,
            rule.unknown_threshold,
            non_event_labels,
        ).label
        for clip in clips
    ]


def rule_key(rule: DecisionRule) -> str:
    """``blend/aggregation/threshold``, the key of ``select_rule``'s table."""
    return f"{rule.blend:g}/{rule.aggregation}/{rule.unknown_threshold:g}"


def _preference(rule: DecisionRule) -> tuple[float, int, float]:
    return (rule.unknown_threshold, int(rule.aggregation == "mean"), rule.blend)


def select_rule(
    clips: Sequence[CvClip],
    labels: tuple[str, ...],
    non_event_labels: Collection[str],
    blends: Sequence[float] = BLEND_GRID,
    aggregations: Sequence[str] = AGGREGATION_GRID,
    thresholds: Sequence[float] = THRESHOLD_GRID,
) -> tuple[DecisionRule, dict[str, float]]:
    """Steps 1-3 of the module docstring: the best rule and every rule's balanced accuracy
    (keyed ``blend/aggregation/threshold``)."""
    clips = [c for c in clips if c.seen]
    if not clips:
        raise ValueError("no cross-validated clips to choose a decision rule on")
    expected = [expected_label(c.label, non_event_labels) for c in clips]
    scored: list[tuple[float, DecisionRule]] = []
    for blend, aggregation, threshold in itertools.product(blends, aggregations, thresholds):
        rule = DecisionRule(float(blend), aggregation, float(threshold))
        decided = rule_decisions(clips, rule, labels, non_event_labels)
        scored.append((balanced_accuracy(expected, decided), rule))
    best_score = max(score for score, _ in scored)
    best = max((r for s, r in scored if s == best_score), key=_preference)
    table = {rule_key(r): s for s, r in scored}
    return best, table
