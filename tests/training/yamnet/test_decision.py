"""Choosing the clip decision rule of a YAMNet head: hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_training.yamnet.decision import (
    CvClip,
    DecisionRule,
    balanced_accuracy,
    blended,
    rule_decisions,
    select_rule,
)

LABELS = ("dog_bark", "siren", "ambient")
NON_EVENT = ("ambient",)


def _clip(label: str, trained: list[list[float]], zero_shot: list[list[float]]) -> CvClip:
    return CvClip(label, np.array(trained), np.array(zero_shot))


def test_balanced_accuracy_weighs_every_expected_label_equally() -> None:
    # dog: 2 of 3 right, unknown: 1 of 1 -> (2/3 + 1) / 2
    expected = ["dog_bark", "dog_bark", "dog_bark", "unknown"]
    decided = ["dog_bark", "dog_bark", "siren", "unknown"]
    assert balanced_accuracy(expected, decided) == pytest.approx(5 / 6)
    assert balanced_accuracy([], []) == 0.0


def test_blend_is_the_weighted_mean_of_both_heads() -> None:
    clip = _clip("siren", [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    assert np.allclose(blended(clip, 0.25), [[0.25, 0.75, 0.0]])


def test_the_threshold_and_the_aggregation_change_the_decision() -> None:
    # two windows: a clear siren window, then background.
    clip = _clip("siren", [[0.1, 0.6, 0.3], [0.0, 0.0, 1.0]], [[0.1, 0.6, 0.3], [0.0, 0.0, 1.0]])
    # only the first window votes (event mass 0.7 > 0.3): siren 0.6 / 0.7 = 0.857
    assert rule_decisions([clip], DecisionRule(1.0, "mean", 0.5), LABELS, NON_EVENT) == ["siren"]
    assert rule_decisions([clip], DecisionRule(1.0, "mean", 0.9), LABELS, NON_EVENT) == ["unknown"]


def test_the_zero_shot_part_rescues_a_class_the_trained_head_never_saw() -> None:
    # the trained head has no siren data and calls it background; zero-shot says siren.
    siren = _clip("siren", [[0.0, 0.0, 1.0]], [[0.0, 0.9, 0.1]])
    dog = _clip("dog_bark", [[0.9, 0.0, 0.1]], [[0.4, 0.3, 0.3]])
    quiet = _clip("ambient", [[0.1, 0.0, 0.9]], [[0.1, 0.1, 0.8]])
    rule, table = select_rule(
        [siren, dog, quiet], LABELS, NON_EVENT, blends=(0.0, 0.5, 1.0), thresholds=(0.5,)
    )
    # blend 1.0: siren -> unknown (no voting window): 2 of 3 labels right.
    assert table["1/mean/0.5"] == pytest.approx(2 / 3)
    # blend 0.5: siren window 0/0.45/0.55 -> no vote -> unknown; still 2 of 3.
    assert table["0.5/mean/0.5"] == pytest.approx(2 / 3)
    # blend 0.0: siren right, dog 0.4/0.7 = 0.57 right, quiet: event mass 0.2 -> unknown: all.
    assert table["0/mean/0.5"] == pytest.approx(1.0)
    assert table["0/max/0.5"] == pytest.approx(1.0)
    assert rule == DecisionRule(0.0, "mean", 0.5)  # a tie with max goes to mean


def test_ties_prefer_the_higher_threshold() -> None:
    dog = _clip("dog_bark", [[0.9, 0.05, 0.05]], [[0.9, 0.05, 0.05]])
    rule, _ = select_rule(
        [dog], LABELS, NON_EVENT, blends=(1.0,), aggregations=("mean",), thresholds=(0.3, 0.6)
    )
    assert rule.unknown_threshold == 0.6
    with pytest.raises(ValueError, match="no cross-validated clips"):
        select_rule([], LABELS, NON_EVENT)


def test_out_of_fold_clips_never_score_a_clip_with_its_own_family() -> None:
    from noisefleet_training.yamnet.blend import out_of_fold_clips

    rng = np.random.default_rng(0)
    centres = {"dog_bark": np.array([3.0, 0.0]), "siren": np.array([0.0, 3.0])}
    clips, embeddings, labels, families = [], [], [], []
    for family, label in (("a", "dog_bark"), ("b", "dog_bark"), ("c", "siren")):
        emb = centres[label] + 0.1 * rng.standard_normal((6, 2))
        embeddings.append(emb)
        labels += [label] * 6
        families += [family] * 6
        clips.append((label, family, emb, np.full((6, 3), 1 / 3)))
    # generated background is no clip's family: it is always trained on
    embeddings.append(np.array([-3.0, -3.0]) + 0.1 * rng.standard_normal((6, 2)))
    labels += ["ambient"] * 6
    families += ["generated:noise"] * 6
    out = out_of_fold_clips(np.concatenate(embeddings), labels, families, clips, LABELS, 1.0)
    assert sorted(c.label for c in out) == ["dog_bark", "dog_bark", "siren"]
    siren = next(c for c in out if c.label == "siren")
    assert not siren.seen
    assert all(c.seen for c in out if c.label == "dog_bark")
    # family c held the only siren windows: its fold's probe has no siren class at all
    assert siren.trained[:, LABELS.index("siren")].max() < 1e-9
    dog = [c for c in out if c.label == "dog_bark"]
    # the other dog family trains the dog class, so dog clips still come out dog
    assert all(c.trained[:, 0].mean() > 0.5 for c in dog)


def test_clips_of_a_class_the_fold_never_saw_do_not_count() -> None:
    dog = _clip("dog_bark", [[0.9, 0.05, 0.05]], [[0.2, 0.1, 0.7]])
    # an unseen siren clip that only the zero-shot part gets right
    siren = CvClip("siren", np.array([[0.0, 0.0, 1.0]]), np.array([[0.0, 0.9, 0.1]]), seen=False)
    rule, table = select_rule(
        [dog, siren],
        LABELS,
        NON_EVENT,
        blends=(0.0, 1.0),
        aggregations=("mean",),
        thresholds=(0.5,),
    )
    # counted, the siren would make blend 0 score 0.5 (dog lost, siren right) like blend 1
    # (dog right, siren lost); left out, blend 1 gets the dog: 1.0 against 0.0
    assert table == {"0/mean/0.5": 0.0, "1/mean/0.5": 1.0}
    assert rule.blend == 1.0
