"""Clip decisions from window probabilities: soft voting, max, majority, open set."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_core.models.aggregate import aggregate, decide

LABELS = ("dog_bark", "siren", "drilling")


def test_mean_voting_averages_windows() -> None:
    probs = [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]]
    np.testing.assert_allclose(aggregate(probs, "mean"), [13 / 30, 14 / 30, 0.1])


def test_max_and_majority_differ_from_mean() -> None:
    probs = [[0.9, 0.05, 0.05], [0.1, 0.6, 0.3], [0.2, 0.55, 0.25]]
    assert np.argmax(aggregate(probs, "mean")) == 1
    assert np.argmax(aggregate(probs, "max")) == 0
    majority = aggregate(probs, "majority")
    np.testing.assert_allclose(majority, [1 / 3, 2 / 3, 0.0])
    for method in ("mean", "max", "majority"):
        assert aggregate(probs, method).sum() == pytest.approx(1.0)


def test_confident_clip_gets_its_label() -> None:
    decision = decide([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1]], LABELS, "mean", 0.5)
    assert decision.label == "siren"
    assert decision.confidence == pytest.approx(0.75)
    assert decision.scores == pytest.approx({"dog_bark": 0.15, "siren": 0.75, "drilling": 0.1})


def test_unconfident_clip_is_unknown() -> None:
    decision = decide([[0.4, 0.35, 0.25]], LABELS, "mean", 0.5)
    assert decision.label == "unknown"
    assert decision.confidence == pytest.approx(0.4)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="aggregation"):
        aggregate([[1.0, 0.0, 0.0]], "median")
    with pytest.raises(ValueError, match="window"):
        aggregate(np.empty((0, 3)), "mean")
    with pytest.raises(ValueError, match="labels"):
        decide([[0.5, 0.5]], LABELS)


def test_non_event_labels_are_left_out_of_the_decision() -> None:
    labels = (*LABELS, "ambient")
    # Three background windows and one bark: the bark is the clip's event.
    probs = [[0.02, 0.02, 0.01, 0.95]] * 3 + [[0.8, 0.05, 0.05, 0.1]]
    assert decide(probs, labels, "mean", 0.5).label == "ambient"
    decision = decide(probs, labels, "mean", 0.5, non_event_labels=("ambient",))
    assert decision.label == "dog_bark"
    assert set(decision.scores) == set(LABELS)
    assert sum(decision.scores.values()) == pytest.approx(1.0)
    assert decision.confidence == pytest.approx(max(decision.scores.values()))
    with pytest.raises(ValueError, match="non-event"):
        decide(probs, labels, "mean", 0.5, non_event_labels=labels)


def test_a_clip_without_an_event_window_is_unknown() -> None:
    labels = (*LABELS, "ambient")
    # Silence, a tone or speech that the model calls ambient: the small event scores must not
    # be renormalised into a confident class.
    probs = [[0.06, 0.01, 0.01, 0.92]] * 4
    decision = decide(probs, labels, "mean", 0.5, non_event_labels=("ambient",))
    assert decision.label == "unknown"
    assert set(decision.scores) == set(LABELS)
