"""Event boundaries snapped to the level envelope: the steepest rise and fall near them."""

from __future__ import annotations

import pytest

from noisefleet_core.events import DetectorSettings
from noisefleet_core.events.boundaries import snap_boundaries

from .helpers import detect, make_frames, one_class

# A bed at 50 dB with a sound at 62 dB on frames 10-19.
LEVELS = [50.0] * 10 + [62.0] * 10 + [50.0] * 10


@pytest.mark.parametrize("span", [1, 2, 3])
def test_boundaries_move_to_the_level_steps(span: int) -> None:
    # The classifier saw the sound from frame 7 to frame 23 (its windows smear it).
    assert snap_boundaries(LEVELS, 7, 23, search=5, span=span) == (10, 20)
    assert snap_boundaries(LEVELS, 12, 18, search=5, span=span) == (10, 20)


def test_boundaries_stay_without_a_step_in_reach() -> None:
    assert snap_boundaries(LEVELS, 3, 26, search=2) == (3, 26)  # the steps are 7 frames away
    assert snap_boundaries([50.0] * 30, 7, 23, search=5) == (7, 23)  # a steady level
    assert snap_boundaries(LEVELS, 7, 23, search=5, min_step_db=15.0) == (7, 23)  # too small
    assert snap_boundaries(LEVELS, 7, 23, search=0) == (7, 23)


def test_only_the_asked_boundaries_move() -> None:
    assert snap_boundaries(LEVELS, 7, 23, search=5, snap_start=False) == (7, 20)
    assert snap_boundaries(LEVELS, 7, 23, search=5, snap_end=False) == (10, 23)


def test_an_event_never_becomes_empty() -> None:
    # The strongest fall lies before the strongest rise: keep the classifier's boundaries.
    levels = [60.0] * 5 + [40.0] * 5 + [70.0] * 5
    assert snap_boundaries(levels, 6, 8, search=4, span=1) == (6, 8)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="inside"):
        snap_boundaries(LEVELS, 20, 10, search=3)
    with pytest.raises(ValueError, match="span"):
        snap_boundaries(LEVELS, 5, 10, search=3, span=0)


def test_the_detector_reports_snapped_boundaries_and_their_levels() -> None:
    scores = one_class([0.0] * 7 + [0.9] * 16 + [0.0] * 17)
    levels = [50.0] * 10 + [62.0] * 10 + [50.0] * 20
    snapped = DetectorSettings(("siren",), median_filter_frames=1, unknown_level_db=None)
    (event,) = detect(snapped, make_frames(scores, levels))
    assert (event.start_frame, event.end_frame) == (10, 20)
    assert (event.start_s, event.end_s, event.duration_s) == (1.0, 2.0, 1.0)
    assert event.laeq_db == pytest.approx(62.0)
    plain = DetectorSettings(
        ("siren",), median_filter_frames=1, unknown_level_db=None, boundary_search_s=0.0
    )
    (event,) = detect(plain, make_frames(scores, levels))
    assert (event.start_frame, event.end_frame) == (7, 23)


def test_unknown_events_keep_their_level_boundaries() -> None:
    settings = DetectorSettings(("siren",), median_filter_frames=1, unknown_level_db=65.0)
    levels = [50.0] * 10 + [58.0] * 3 + [70.0] * 10 + [50.0] * 10
    (event,) = detect(settings, make_frames(one_class([0.0] * 33), levels))
    assert (event.label, event.start_frame, event.end_frame) == ("unknown", 13, 23)
