"""Training windows for event detection: per-window targets, ambient clips, folds, clip votes."""

from __future__ import annotations

import numpy as np
import pytest

from noisefleet_core.features.logmel import FeatureParams
from noisefleet_training.evaluate import clip_predictions, split_metrics
from noisefleet_training.features import WindowSet
from noisefleet_training.fit import class_repeats
from noisefleet_training.scenes import (
    AMBIENT_KEY,
    AMBIENT_LABEL,
    IGNORE,
    LABELS,
    SceneCorpus,
    corpus_items,
    items_windows,
    window_spans,
    window_targets,
)
from noisefleet_training.synth import TRAIN_SETTINGS, clip_rng, render_ambient

PARAMS = FeatureParams()


def test_ambient_is_the_last_label_and_not_a_reserved_name() -> None:
    assert LABELS[AMBIENT_KEY] == AMBIENT_LABEL == "ambient"
    assert AMBIENT_LABEL not in ("background", "unknown")


def test_window_spans_follow_the_frontend() -> None:
    spans = window_spans(3, PARAMS)
    np.testing.assert_allclose(spans[:, 0], [0.0, 0.496, 0.992])
    np.testing.assert_allclose(spans[:, 1] - spans[:, 0], PARAMS.window_samples / 16000)


def test_window_targets_label_covered_windows_and_leave_out_half_covered_ones() -> None:
    spans = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0], [4.0, 5.0], [5.0, 6.0]])
    # A long event (1.2-3.3 s), a short one (4.9-5.1 s): half of a short event is enough.
    targets = window_targets(spans, [(1.2, 3.3, 3), (4.9, 5.1, 6)], ambient=10)
    assert targets.tolist() == [10, 3, 3, IGNORE, 6, 6]
    assert window_targets(spans[:1], [(0.97, 2.0, 1)], ambient=10).tolist() == [10]
    # Two classes in one window: ambiguous.
    assert window_targets(spans[:1], [(0.0, 0.5, 1), (0.5, 1.0, 2)], 10).tolist() == [IGNORE]


def test_ambient_clips_are_beds_at_a_drawn_level() -> None:
    audio = render_ambient(clip_rng(0, TRAIN_SETTINGS, AMBIENT_KEY, 0), TRAIN_SETTINGS, 16000, 2.0)
    assert audio.shape == (32000,)
    rms_db = 20 * np.log10(np.sqrt(np.mean(audio**2)))
    assert TRAIN_SETTINGS.level_dbfs.low - 0.1 <= rms_db <= TRAIN_SETTINGS.level_dbfs.high + 0.1
    assert np.max(np.abs(audio)) <= 0.98
    again = render_ambient(clip_rng(0, TRAIN_SETTINGS, AMBIENT_KEY, 0), TRAIN_SETTINGS, 16000, 2.0)
    np.testing.assert_array_equal(audio, again)


@pytest.fixture(scope="module")
def corpus() -> list:
    return corpus_items(
        SceneCorpus(
            TRAIN_SETTINGS,
            0,
            clips_per_class=2,
            ambient_clips=2,
            clip_seconds=2.0,
            soundscapes=1,
            soundscape_seconds=20.0,
        ),
        PARAMS,
    )


def test_corpus_windows_by_fold(corpus: list) -> None:
    assert len(corpus) == 2 * 10 + 2 + 1
    everything = items_windows(corpus, PARAMS, range(1, 11))
    fold_1 = items_windows(corpus, PARAMS, (1,))
    fold_2 = items_windows(corpus, PARAMS, (2,))
    assert len(fold_1) + len(fold_2) == len(everything)
    assert everything.labels == LABELS
    assert everything.non_event_labels == (AMBIENT_LABEL,)
    assert IGNORE not in everything.y
    assert AMBIENT_KEY in everything.y
    # Every event clip of fold 1 keeps its class as the clip label, whatever its windows say.
    assert set(fold_1.clip_targets.tolist()) == set(range(len(LABELS)))


def test_clip_votes_ignore_ambient_windows_and_clips() -> None:
    labels = ("dog_bark", "siren", "ambient")
    windows = WindowSet(
        x=np.zeros((5, 2, 2), dtype=np.float32),
        y=np.array([2, 0, 2, 2, 2]),
        clip=np.array([0, 0, 0, 1, 1]),
        labels=labels,
        clip_y=np.array([0, 0, 0, 2, 2]),
        non_event_labels=("ambient",),
    )
    probs = np.array(
        [[0.05, 0.05, 0.9], [0.7, 0.2, 0.1], [0.02, 0.08, 0.9], [0.1, 0.1, 0.8], [0.2, 0.1, 0.7]]
    )
    truth, predicted = clip_predictions(probs, windows)
    assert truth.tolist() == [0]
    assert predicted.tolist() == [0]
    metrics = split_metrics(probs, windows)
    assert metrics.clips == 1
    assert metrics.clip_accuracy == 1.0
    assert metrics.window_accuracy == pytest.approx(1.0)


def test_rare_classes_repeat_up_to_three_times() -> None:
    y = np.array([0] * 100 + [1] * 50 + [2] * 10 + [3] * 400)
    assert class_repeats(y, 5).tolist() == [1, 2, 3, 1, 1]
