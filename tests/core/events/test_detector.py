"""The detector's state machine: hysteresis, minimum duration, gaps, parts, unknown, levels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from noisefleet_core.events import DetectorSettings, EventDetector, Frame

from .helpers import detect, make_frames, one_class

# Most frames here share one level: nothing stands out of the background, so the prominence
# check is off unless a test is about it.
SIREN = DetectorSettings(
    ("siren",), median_filter_frames=1, unknown_level_db=None, min_prominence_db=None
)


def _spans(events: list) -> list[tuple[str, int, int]]:
    return [(event.label, event.start_frame, event.end_frame) for event in events]


# --- hysteresis, minimum duration, gap merging -----------------------------------------------


def test_onset_needs_the_onset_threshold_and_offset_the_offset_threshold() -> None:
    scores = [0.0, 0.0, 0.45, 0.6, 0.45, 0.35, 0.31, 0.25, 0.45, 0.0, 0.0]
    events = detect(SIREN, make_frames(one_class(scores)))
    # 0.45 at frame 2 does not start it; it runs while >= 0.3 and stops at 0.25 (frame 7);
    # 0.45 at frame 8 does not start a new one.
    assert _spans(events) == [("siren", 3, 7)]
    event = events[0]
    assert (event.start_s, event.end_s, event.duration_s) == (0.3, 0.7, 0.4)
    assert event.confidence_peak == pytest.approx(0.6)
    assert event.confidence_mean == pytest.approx((0.6 + 0.45 + 0.35 + 0.31) / 4)
    assert (event.part, event.final) == (1, True)


def test_score_below_onset_never_starts_an_event() -> None:
    assert detect(SIREN, make_frames(one_class([0.49] * 30))) == []


def test_blip_shorter_than_min_duration_is_dropped_and_counted() -> None:
    detector = EventDetector(SIREN)
    frames = make_frames(one_class([0.0] * 5 + [0.9] * 2 + [0.0] * 10))
    assert detector.push_many(frames) + detector.flush() == []
    assert detector.dropped_short == {"siren": 1}
    # Three frames reach the 0.3 s minimum.
    kept = detect(SIREN, make_frames(one_class([0.0] * 5 + [0.9] * 3 + [0.0] * 10)))
    assert _spans(kept) == [("siren", 5, 8)]


def test_per_class_min_duration() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, min_durations_s={"siren": 1.0}
    )
    assert detect(settings, make_frames(one_class([0.9] * 9 + [0.0] * 10))) == []
    assert _spans(detect(settings, make_frames(one_class([0.9] * 10)))) == [("siren", 0, 10)]


@pytest.mark.parametrize(
    ("gap_frames", "spans"),
    [
        (4, [("siren", 0, 14)]),  # 0.4 s < 0.5 s: one event, gap included
        (5, [("siren", 0, 5), ("siren", 10, 15)]),  # a gap of merge_gap_s separates
        (6, [("siren", 0, 5), ("siren", 11, 16)]),
    ],
)
def test_short_gaps_merge_and_long_gaps_separate(
    gap_frames: int, spans: list[tuple[str, int, int]]
) -> None:
    scores = [0.9] * 5 + [0.0] * gap_frames + [0.9] * 5 + [0.0] * 10
    events = detect(SIREN, make_frames(one_class(scores)))
    assert _spans(events) == spans
    assert len({event.event_id for event in events}) == len(spans)


def test_short_blips_close_together_merge_into_one_event() -> None:
    # Gaps are merged before the minimum duration applies (like "minimum hits" in a window).
    scores = [0.9, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert _spans(detect(SIREN, make_frames(one_class(scores)))) == [("siren", 0, 4)]


def test_overlapping_events_of_different_classes() -> None:
    settings = DetectorSettings(("siren", "drill"), median_filter_frames=1, unknown_level_db=None)
    scores = [[0.9, 0.0]] * 5 + [[0.9, 0.8]] * 5 + [[0.0, 0.8]] * 5 + [[0.0, 0.0]] * 10
    events = detect(settings, make_frames(scores))
    assert sorted(_spans(events)) == [("drill", 5, 15), ("siren", 0, 10)]


# --- maximum duration ------------------------------------------------------------------------


def test_endless_event_is_reported_in_parts() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, max_duration_s=1.0
    )
    detector = EventDetector(settings)
    reports = {}
    for frame in make_frames(one_class([0.9] * 35)):
        for event in detector.push(frame):
            reports[frame.index] = event
    # A part is reported one frame after it reached the maximum (the event goes on).
    assert sorted(reports) == [10, 20, 30]
    assert [(e.start_frame, e.end_frame, e.part, e.final) for e in reports.values()] == [
        (0, 10, 1, False),
        (10, 20, 2, False),
        (20, 30, 3, False),
    ]
    assert all(e.duration_s == 1.0 for e in reports.values())
    (last,) = detector.flush()
    assert (last.start_frame, last.end_frame, last.part, last.final) == (30, 35, 4, True)
    assert {e.event_id for e in [*reports.values(), last]} == {"event-1"}


def test_event_of_exactly_max_duration_is_one_final_part() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, max_duration_s=1.0
    )
    events = detect(settings, make_frames(one_class([0.9] * 10 + [0.0] * 10)))
    assert [(e.start_frame, e.end_frame, e.part, e.final) for e in events] == [(0, 10, 1, True)]


def test_part_boundary_inside_a_merged_gap() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, max_duration_s=1.0
    )
    # Active 0..7, gap 8..11, active 12..14: the first part is cut at frame 10, in the gap.
    events = detect(settings, make_frames(one_class([0.9] * 8 + [0.0] * 4 + [0.9] * 3)))
    assert [(e.start_frame, e.end_frame, e.part, e.final) for e in events] == [
        (0, 10, 1, False),
        (10, 15, 2, True),
    ]


# --- median filter and gating ------------------------------------------------------------------


def test_median_filter_removes_spike_and_fills_dropout() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=5, unknown_level_db=None, merge_gap_s=0.0
    )
    spike = [0.0] * 10 + [1.0] + [0.0] * 10
    assert detect(settings, make_frames(one_class(spike))) == []
    dropout = [0.9] * 10 + [0.0] + [0.9] * 10 + [0.0] * 5
    assert _spans(detect(settings, make_frames(one_class(dropout)))) == [("siren", 0, 21)]


def test_report_timing_includes_median_lag_and_merge_gap() -> None:
    settings = DetectorSettings(
        ("siren",),
        median_filter_frames=5,
        unknown_level_db=None,
        boundary_search_s=0.0,
        min_prominence_db=None,
    )
    detector = EventDetector(settings)
    assert detector.delay_frames == 2
    frames = make_frames(one_class([0.0] * 10 + [0.9] * 10 + [0.0] * 20))
    reported_at = [frame.index for frame in frames if detector.push(frame)]
    # Last active frame 19; the 0.5 s gap is complete at frame 24, decided at push of 24 + 2.
    assert reported_at == [26]


def test_report_timing_waits_for_the_offset_search() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=5, unknown_level_db=None, min_prominence_db=None
    )
    detector = EventDetector(settings)
    frames = make_frames(one_class([0.0] * 10 + [0.9] * 10 + [0.0] * 30))
    reported_at = [frame.index for frame in frames if detector.push(frame)]
    # The offset (frame 20) may move up to 0.6 s later: frame 26 decided at the push of 28.
    assert reported_at == [28]


def test_unclassified_frames_never_start_class_events() -> None:
    settings = DetectorSettings(("siren",), median_filter_frames=3, unknown_level_db=None)
    assert detect(settings, make_frames([None] * 30, levels_db=80.0)) == []
    # The smoothed score of frame 1 is 0.9 (median of 0.9, 0, 0.9) but frame 1 was not
    # classified, so the event starts at frame 2.
    events = detect(settings, make_frames(one_class([0.9, None] + [0.9] * 5 + [0.0] * 10)))
    assert _spans(events) == [("siren", 2, 7)]


def test_an_unclassified_frame_inside_an_event_continues_it() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=3, unknown_level_db=None, merge_gap_s=0.0
    )
    events = detect(settings, make_frames(one_class([0.9] * 5 + [None] + [0.9] * 5)))
    assert _spans(events) == [("siren", 0, 11)]


# --- unknown -----------------------------------------------------------------------------------


def test_loud_sound_no_class_explains_is_unknown() -> None:
    settings = DetectorSettings(("siren", "drill"), median_filter_frames=1, unknown_level_db=65.0)
    levels = [50.0] * 5 + [70.0] * 10 + [50.0] * 10
    scores = [[0.1, 0.2]] * 25
    events = detect(settings, make_frames(scores, levels_db=levels))
    assert _spans(events) == [("unknown", 5, 15)]
    event = events[0]
    assert event.confidence_peak is None
    assert event.confidence_mean is None
    assert event.runner_up == (("drill", pytest.approx(0.2)), ("siren", pytest.approx(0.1)))
    assert event.laeq_db == pytest.approx(70.0)


def test_loud_unclassified_frames_are_unknown() -> None:
    settings = DetectorSettings(("siren",), median_filter_frames=1, unknown_level_db=65.0)
    events = detect(settings, make_frames([None] * 8, levels_db=80.0))
    assert _spans(events) == [("unknown", 0, 8)]
    assert events[0].runner_up == ()


def test_no_unknown_event_when_a_class_explains_the_sound() -> None:
    settings = DetectorSettings(("siren",), median_filter_frames=1, unknown_level_db=65.0)
    levels = [50.0] * 5 + [70.0] * 10 + [50.0] * 10
    scores = one_class([0.0] * 5 + [0.9] * 10 + [0.0] * 10)
    assert _spans(detect(settings, make_frames(scores, levels_db=levels))) == [("siren", 5, 15)]


def test_level_exactly_at_unknown_threshold_counts() -> None:
    settings = DetectorSettings(("siren",), median_filter_frames=1, unknown_level_db=65.0)
    events = detect(settings, make_frames(one_class([0.0] * 5), levels_db=65.0))
    assert _spans(events) == [("unknown", 0, 5)]


# --- event statistics --------------------------------------------------------------------------


def test_event_levels_are_energy_correct() -> None:
    scores = one_class([0.0, 0.9, 0.9, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0])
    levels = [40.0, 70.0, 80.0, 70.0, 80.0, 40.0, 40.0, 40.0, 40.0, 40.0]
    lafmax = [99.0, 75.0, 85.0, 90.0, 80.0, 99.0, 99.0, 99.0, 99.0, 99.0]
    (event,) = detect(SIREN, make_frames(scores, levels_db=levels, lafmax_db=lafmax))
    expected_laeq = 10 * math.log10((2 * 10**7 + 2 * 10**8) / 4)
    assert event.laeq_db == pytest.approx(expected_laeq)  # 77.40 dB, not the 75 dB mean
    assert event.lafmax_db == 90.0
    assert event.duration_s == pytest.approx(0.4)
    assert event.lae_db == pytest.approx(expected_laeq + 10 * math.log10(0.4))


def test_runner_up_classes_by_mean_score() -> None:
    settings = DetectorSettings(
        ("siren", "drill", "dog", "music"),
        median_filter_frames=1,
        unknown_level_db=None,
        runner_up_count=3,
    )
    scores = [[0.0, 0.0, 0.0, 0.0]] + [[0.8, 0.3, 0.1, 0.0], [0.9, 0.1, 0.3, 0.0]] * 3
    (event,) = detect(settings, make_frames(scores + [[0.0] * 4] * 10))
    assert event.label == "siren"
    # drill and dog tie at 0.2 (label order decides); music never scored, so it is left out.
    assert event.runner_up == (("drill", pytest.approx(0.2)), ("dog", pytest.approx(0.2)))
    assert event.confidence_mean == pytest.approx(0.85)
    assert event.confidence_peak == pytest.approx(0.9)


def test_stream_time_starts_at_frame_zero() -> None:
    frames = make_frames(one_class([0.9] * 5), first_index=600)
    (event,) = detect(SIREN, frames)
    assert (event.start_frame, event.start_s, event.end_s) == (600, 60.0, 60.5)


# --- ids, decided frames, input checks ---------------------------------------------------------


def test_ids_come_from_the_factory_and_skip_dropped_blips() -> None:
    issued = iter(["a", "b", "c"])
    detector = EventDetector(SIREN, id_factory=lambda: next(issued))
    scores = [0.9] * 5 + [0.0] * 6 + [0.9] + [0.0] * 6 + [0.9] * 5
    events = detector.push_many(make_frames(one_class(scores))) + detector.flush()
    assert [event.event_id for event in events] == ["a", "b"]
    default = detect(SIREN, make_frames(one_class(scores)))
    assert [event.event_id for event in default] == ["event-1", "event-2"]


def test_decided_frames_follow_the_reported_events() -> None:
    settings = DetectorSettings(("siren",), median_filter_frames=3, unknown_level_db=65.0)
    levels = [50.0] * 4 + [70.0] * 12 + [50.0] * 6 + [70.0] * 4 + [50.0] * 4
    scores = one_class([0.0] * 4 + [0.9] * 5 + [0.0, 0.0] + [0.9] * 5 + [0.0] * 14)
    detector = EventDetector(settings)
    decided = []
    events = []
    for frame in make_frames(scores, levels_db=levels):
        events.extend(detector.push(frame))
        decided.extend(detector.pop_decided_frames())
    events.extend(detector.flush())
    decided.extend(detector.pop_decided_frames())
    assert _spans(events) == [("siren", 4, 16), ("unknown", 22, 26)]
    assert [frame.index for frame in decided] == list(range(30))
    labelled = {frame.index: frame.labels for frame in decided}
    assert all(labelled[i] == {"siren"} for i in range(4, 16))  # the gap 9..10 included
    assert all(labelled[i] == {"unknown"} for i in range(22, 26))
    assert all(not labelled[i] for i in [*range(4), *range(16, 22), *range(26, 30)])
    assert [frame.laeq_db for frame in decided] == levels


def test_decided_frames_can_be_switched_off() -> None:
    detector = EventDetector(SIREN, record_frames=False)
    detector.push_many(make_frames(one_class([0.9] * 10)))
    detector.flush()
    assert detector.pop_decided_frames() == []


def test_frames_must_be_consecutive() -> None:
    detector = EventDetector(SIREN)
    detector.push(Frame(3, 50.0, 52.0, None))
    with pytest.raises(ValueError, match="expected frame 4, got 5"):
        detector.push(Frame(5, 50.0, 52.0, None))


def test_score_vector_must_match_the_labels() -> None:
    detector = EventDetector(SIREN)
    with pytest.raises(ValueError, match="2 scores for 1 labels"):
        detector.push(Frame(0, 50.0, 52.0, np.array([0.5, 0.5])))


@pytest.mark.parametrize(
    ("laeq", "scores", "message"),
    [
        (math.nan, None, "finite"),
        (math.inf, None, "finite"),
        (50.0, np.array([1.5]), "probabilities"),
        (50.0, np.array([math.nan]), "1-D array of numbers"),
        (50.0, np.array([[0.5]]), "1-D array of numbers"),
    ],
)
def test_bad_frames_are_refused(laeq: float, scores: np.ndarray | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Frame(0, laeq, 60.0, scores)


def test_frame_scores_are_a_read_only_copy() -> None:
    source = np.array([0.2, 1.0 + 1e-9])
    frame = Frame(0, 50.0, 52.0, source)
    source[0] = 0.9
    assert frame.scores is not None
    assert frame.scores.tolist() == [0.2, 1.0]
    with pytest.raises(ValueError, match="read-only"):
        frame.scores[0] = 0.0


def test_no_frames_after_flush() -> None:
    detector = EventDetector(SIREN)
    assert detector.flush() == []
    assert detector.flush() == []
    with pytest.raises(RuntimeError, match="flushed"):
        detector.push(Frame(0, 50.0, 52.0, None))


# --- non-event labels ----------------------------------------------------------------------------


def test_non_event_labels_are_never_events_nor_runners_up() -> None:
    settings = DetectorSettings(
        ("siren", "ambient"),
        median_filter_frames=1,
        unknown_level_db=65.0,
        non_event_labels=("ambient",),
    )
    # Ambient wins everywhere; the siren scores 0.6 on frames 10-19; frames 25-34 are loud.
    scores = [[0.1, 0.9]] * 40
    scores[10:20] = [[0.6, 0.4]] * 10
    levels = [50.0] * 10 + [60.0] * 10 + [50.0] * 5 + [70.0] * 10 + [50.0] * 5
    detector = EventDetector(settings)
    events = detector.push_many(make_frames(scores, levels)) + detector.flush()
    assert _spans(events) == [("siren", 10, 20), ("unknown", 25, 35)]
    assert events[0].runner_up == ()
    assert events[1].runner_up == (("siren", pytest.approx(0.1)),)
    # Frames that only ambient explains are background for energy attribution.
    labels = {frame.index: frame.labels for frame in detector.pop_decided_frames()}
    assert labels[5] == frozenset()
    assert labels[12] == {"siren"}
    assert labels[30] == {"unknown"}


# --- prominence ----------------------------------------------------------------------------------


def test_events_that_do_not_stand_out_of_the_background_are_dropped() -> None:
    settings = DetectorSettings(("siren",), median_filter_frames=1, unknown_level_db=None)
    scores = one_class([0.0] * 30 + [0.9] * 10 + [0.0] * 30)
    # The class fires over a steady 55 dB bed: a misclassified background.
    detector = EventDetector(settings)
    assert detector.push_many(make_frames(scores, 55.0)) + detector.flush() == []
    assert detector.dropped_faint == {"siren": 1}
    assert all(frame.labels == frozenset() for frame in detector.pop_decided_frames())
    # 4 dB above the bed (a sound a little louder than the bed) is reported.
    levels = [55.0] * 30 + [59.0] * 10 + [55.0] * 30
    (event,) = detect(settings, make_frames(scores, levels))
    assert (event.start_frame, event.end_frame) == (30, 40)
    # A stricter setting drops it; without the check the steady bed is an event.
    strict = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, min_prominence_db=6.0
    )
    assert detect(strict, make_frames(scores, levels)) == []
    off = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, min_prominence_db=None
    )
    assert len(detect(off, make_frames(scores, 55.0))) == 1


def test_the_background_is_the_median_before_the_onset() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, background_window_s=2.0
    )
    # A loud minute long ago does not matter: the 2 s before the onset are at 50 dB.
    levels = [80.0] * 30 + [50.0] * 30 + [54.0] * 10 + [50.0] * 10
    scores = one_class([0.0] * 60 + [0.9] * 10 + [0.0] * 10)
    (event,) = detect(settings, make_frames(scores, levels))
    assert (event.start_frame, event.end_frame) == (60, 70)
    # Too early in the stream to know a background: reported.
    assert len(detect(settings, make_frames(one_class([0.9] * 5 + [0.0] * 10), 50.0))) == 1


def test_long_events_are_not_checked_for_prominence() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, prominence_max_s=2.0
    )
    short = one_class([0.0] * 30 + [0.9] * 10 + [0.0] * 30)
    assert detect(settings, make_frames(short, 55.0)) == []
    # Open 2.5 s with its merge gap: its frames settled while it ran, so it is reported.
    long = one_class([0.0] * 30 + [0.9] * 20 + [0.0] * 30)
    (event,) = detect(settings, make_frames(long, 55.0))
    assert (event.start_frame, event.end_frame) == (30, 50)


def test_a_steady_12_s_siren_is_one_12_s_event() -> None:
    """5 s of a 50 dB bed, a 70 dB siren for 12 s with steady scores, then the bed again."""
    labels = ("siren", "drilling", "ambient")
    settings = DetectorSettings(labels, non_event_labels=("ambient",))
    detector = EventDetector(settings)
    frames = []
    for i in range(220):
        on = 50 <= i < 170
        scores = np.array([0.9, 0.05, 0.05]) if on else np.array([0.02, 0.03, 0.95])
        frames.append(Frame(i, 70.0 if on else 50.0, 71.0 if on else 51.0, scores))
    events = detector.push_many(frames) + detector.flush()
    assert [(e.label, e.start_s, e.end_s) for e in events] == [
        ("siren", pytest.approx(5.0), pytest.approx(17.0))
    ]


def test_a_class_never_becomes_its_own_background() -> None:
    """A siren whose scores dip once (two events) keeps its second part: the background level
    for the prominence check comes from frames without class activity, not from the siren."""
    labels = ("siren", "ambient")
    settings = DetectorSettings(labels, non_event_labels=("ambient",))
    detector = EventDetector(settings)
    frames = []
    for i in range(200):
        on = 40 <= i < 160
        dip = 90 <= i < 100
        scores = np.array([0.9, 0.1]) if on and not dip else np.array([0.05, 0.95])
        frames.append(Frame(i, 70.0 if on else 50.0, 71.0 if on else 51.0, scores))
    events = [e for e in detector.push_many(frames) + detector.flush() if e.label == "siren"]
    assert len(events) == 2  # the dip itself is loud and classless: ``unknown``
    assert sum(e.end_s - e.start_s for e in events) == pytest.approx(11.0, abs=0.3)
    assert detector.dropped_faint["siren"] == 0
