"""Start notices (``EventDetector.pop_started``): once per event, only for events that will be
reported, with the id and onset of the event's end report."""

from __future__ import annotations

from noisefleet_core.events import DetectorSettings, EventDetector

from .helpers import make_frames, one_class

SIREN = DetectorSettings(("siren",), median_filter_frames=1, unknown_level_db=None)


def _run(settings: DetectorSettings, frames: list) -> tuple[list, list, list[int]]:
    """(start notices, end reports, the frame after which each notice appeared)."""
    detector = EventDetector(settings)
    started, ended, when = [], [], []
    for frame in frames:
        ended += detector.push(frame)
        for notice in detector.pop_started():
            started.append(notice)
            when.append(frame.index)
    ended += detector.flush()
    started += detector.pop_started()
    return started, ended, when


def test_a_long_event_is_announced_once_with_the_id_and_onset_of_its_report() -> None:
    # 20 quiet frames (the background level), then a siren 10 dB louder for 15 s.
    scores = [0.0] * 20 + [0.9] * 150 + [0.0] * 20
    levels = [50.0] * 20 + [60.0] * 150 + [50.0] * 20
    started, ended, when = _run(SIREN, make_frames(one_class(scores), levels))
    assert len(started) == 1
    assert len(ended) == 1
    notice, report = started[0], ended[0]
    assert notice.event_id == report.event_id
    assert notice.label == "siren"
    assert notice.start_frame == report.start_frame == 20
    assert (notice.part, notice.final) == (1, False)
    assert notice.end_frame < report.end_frame
    # A class event is certain once it outlived the prominence check (10 s = 100 frames).
    assert when == [20 + SIREN.frames(SIREN.prominence_max_s)]


def test_short_events_are_reported_only_at_their_end() -> None:
    scores = ([0.0] * 20 + [0.9] * 20) * 3 + [0.0] * 20
    levels = ([50.0] * 20 + [60.0] * 20) * 3 + [50.0] * 20
    started, ended, _ = _run(SIREN, make_frames(one_class(scores), levels))
    assert len(ended) == 3
    assert started == []


def test_without_a_prominence_check_an_event_is_announced_after_its_minimum_duration() -> None:
    settings = DetectorSettings(
        ("siren",),
        median_filter_frames=1,
        unknown_level_db=None,
        min_prominence_db=None,
        boundary_search_s=0.0,
    )
    scores = [0.0] * 10 + [0.9] * 30 + [0.0] * 10
    started, ended, when = _run(settings, make_frames(one_class(scores)))
    assert [n.event_id for n in started] == [e.event_id for e in ended]
    # min duration 0.3 s = 3 frames: frames 10, 11, 12 active, announced as frame 12 is decided
    assert when == [12]


def test_a_blip_that_is_dropped_is_never_announced() -> None:
    settings = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, min_prominence_db=None
    )
    started, ended, _ = _run(settings, make_frames(one_class([0.0] * 10 + [0.9] * 2 + [0.0] * 10)))
    assert (started, ended) == ([], [])


def test_unknown_events_are_announced_too() -> None:
    settings = DetectorSettings(("siren",), median_filter_frames=1, unknown_level_db=65.0)
    levels = [50.0] * 20 + [80.0] * 30 + [50.0] * 20
    started, ended, _ = _run(settings, make_frames(one_class([0.0] * 70), levels))
    assert [(n.label, n.event_id) for n in started] == [(e.label, e.event_id) for e in ended]
    assert started[0].label == "unknown"
