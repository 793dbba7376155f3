"""DCASE metrics through sed_eval on hand-made event lists with known scores."""

from __future__ import annotations

import json

import pytest

from noisefleet_training.sed.metrics import Event, evaluate_detections

LABELS = ("dog_bark", "siren")


def _scores(ref: list[Event], est: list[Event], duration_s: float = 20.0) -> dict:
    return evaluate_detections({"a.wav": ref}, {"a.wav": est}, LABELS, {"a.wav": duration_s})


def test_exact_match_scores_one() -> None:
    events = [Event(1.0, 3.0, "dog_bark"), Event(5.0, 9.0, "siren")]
    result = _scores(events, list(events))
    for kind in ("event_based", "segment_based"):
        assert result[kind]["f1"] == pytest.approx(1.0)
        assert result[kind]["error_rate"] == pytest.approx(0.0)
        assert result[kind]["macro_f1"] == pytest.approx(1.0)
        assert result["label_agnostic"][kind]["f1"] == pytest.approx(1.0)
    assert result["event_based"]["per_class"]["siren"]["f1"] == pytest.approx(1.0)
    json.dumps(result)  # plain data


def test_onset_off_by_more_than_the_collar_is_a_miss() -> None:
    result = _scores([Event(1.0, 3.0, "dog_bark")], [Event(1.3, 3.0, "dog_bark")])
    assert result["event_based"]["f1"] == pytest.approx(0.0)
    assert result["event_based"]["error_rate"] == pytest.approx(2.0)  # a deletion + an insertion
    inside = _scores([Event(1.0, 3.0, "dog_bark")], [Event(1.15, 3.0, "dog_bark")])
    assert inside["event_based"]["f1"] == pytest.approx(1.0)


def test_offset_collar_is_20_percent_of_a_long_event() -> None:
    # 10 s event: the offset may be 2 s off (not sed_eval's default 50 %, i.e. 5 s).
    hit = _scores([Event(2.0, 12.0, "siren")], [Event(2.0, 13.5, "siren")])
    assert hit["event_based"]["f1"] == pytest.approx(1.0)
    miss = _scores([Event(2.0, 12.0, "siren")], [Event(2.0, 14.5, "siren")])
    assert miss["event_based"]["f1"] == pytest.approx(0.0)
    # 1 s event: the offset collar is the 0.2 s floor.
    short = _scores([Event(2.0, 3.0, "siren")], [Event(2.0, 3.3, "siren")])
    assert short["event_based"]["f1"] == pytest.approx(0.0)


def test_segment_based_counts_one_second_segments() -> None:
    # Reference active in segments 0, 1; estimate in 0, 1, 2: P = 2/3, R = 1, F1 = 0.8.
    result = _scores([Event(0.0, 2.0, "dog_bark")], [Event(0.0, 3.0, "dog_bark")], 4.0)
    seg = result["segment_based"]
    assert seg["precision"] == pytest.approx(2 / 3)
    assert seg["recall"] == pytest.approx(1.0)
    assert seg["f1"] == pytest.approx(0.8)
    assert seg["error_rate"] == pytest.approx(0.5)  # one insertion over two reference segments
    assert seg["per_class"]["dog_bark"]["reference"] == 2


def test_label_agnostic_ignores_the_class() -> None:
    result = _scores([Event(1.0, 3.0, "dog_bark")], [Event(1.0, 3.0, "siren")])
    assert result["event_based"]["f1"] == pytest.approx(0.0)
    assert result["label_agnostic"]["event_based"]["f1"] == pytest.approx(1.0)
    assert result["label_agnostic"]["segment_based"]["f1"] == pytest.approx(1.0)


def test_unknown_events_count_only_label_agnostic() -> None:
    ref = [Event(1.0, 3.0, "dog_bark"), Event(6.0, 8.0, "siren")]
    est = [Event(1.0, 3.0, "dog_bark"), Event(6.0, 8.0, "unknown")]
    result = _scores(ref, est)
    assert result["event_based"]["precision"] == pytest.approx(1.0)  # unknown is not a class
    assert result["event_based"]["recall"] == pytest.approx(0.5)
    assert result["label_agnostic"]["event_based"]["f1"] == pytest.approx(1.0)
    assert result["detected_other_label_events"] == 1


def test_macro_f1_counts_a_missed_class_as_zero() -> None:
    ref = [Event(1.0, 3.0, "dog_bark"), Event(6.0, 8.0, "siren")]
    result = _scores(ref, [Event(1.0, 3.0, "dog_bark")])
    assert result["event_based"]["per_class"]["siren"]["f1"] == pytest.approx(0.0)
    assert result["event_based"]["macro_f1"] == pytest.approx(0.5)
    assert result["segment_based"]["macro_f1"] == pytest.approx(0.5)


def test_no_detections_score_zero_and_absent_classes_none() -> None:
    result = _scores([Event(1.0, 3.0, "dog_bark")], [])
    assert result["event_based"]["f1"] == pytest.approx(0.0)
    assert result["event_based"]["per_class"]["siren"]["f1"] is None


def test_detections_need_a_reference() -> None:
    with pytest.raises(ValueError, match=r"b\.wav"):
        evaluate_detections({"a.wav": []}, {"b.wav": []}, LABELS)
