"""Energy attribution: which labels caused how much of the A-weighted energy of an interval."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.events import (
    DecidedFrame,
    DetectorSettings,
    EnergyAttribution,
    EventDetector,
    attribute_energy,
)

from .helpers import make_frames, one_class


def test_known_shares() -> None:
    shares = attribute_energy([70.0, 70.0, 60.0, 60.0], [{"music"}, {"music"}, set(), set()])
    assert shares == {"music": pytest.approx(10 / 11), "background": pytest.approx(1 / 11)}
    assert list(shares) == ["music", "background"]


def test_frame_with_several_labels_splits_its_energy_equally() -> None:
    shares = attribute_energy([80.0, 80.0], [{"siren", "drill"}, {"drill"}])
    assert shares == {
        "drill": pytest.approx(0.75),
        "siren": pytest.approx(0.25),
        "background": 0.0,
    }


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="one label set per frame"):
        attribute_energy([60.0], [])
    with pytest.raises(ValueError, match="without frames"):
        attribute_energy([], [])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-50.0, 140.0),
            st.sets(st.sampled_from(["siren", "drill", "unknown"]), max_size=3),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_shares_sum_to_one(frames: list[tuple[float, set[str]]]) -> None:
    shares = attribute_energy([lv for lv, _ in frames], [labels for _, labels in frames])
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(0.0 <= share <= 1.0 for share in shares.values())
    assert set(shares) == set().union(*(labels for _, labels in frames)) | {"background"}


def test_attribution_of_level_intervals_from_the_detector() -> None:
    settings_ = DetectorSettings(
        ("music",), median_filter_frames=1, unknown_level_db=None, min_prominence_db=None
    )
    detector = EventDetector(settings_)
    levels = [60.0] * 10 + [70.0] * 10
    scores = one_class([0.0] * 10 + [0.9] * 10)
    attribution = EnergyAttribution()
    for frame in make_frames(scores, levels_db=levels):
        detector.push(frame)
        attribution.add(detector.pop_decided_frames())
    # The open music event is confirmed, so its frames are settled before the stream ends.
    assert attribution.settled_until == 20
    assert attribution.shares(0, 10) == {"background": 1.0}
    assert attribution.shares(5, 15) == {
        "music": pytest.approx(10 / 11),
        "background": pytest.approx(1 / 11),
    }
    attribution.discard_before(10)
    with pytest.raises(ValueError, match="not all settled"):
        attribution.shares(5, 15)
    with pytest.raises(ValueError, match="empty interval"):
        attribution.shares(12, 12)


def test_frames_must_be_added_in_order() -> None:
    attribution = EnergyAttribution()
    assert attribution.settled_until is None
    with pytest.raises(ValueError, match="no settled frames"):
        attribution.shares(0, 1)
    attribution.add([DecidedFrame(0, 60.0, frozenset())])
    with pytest.raises(ValueError, match="expected frame 1, got 2"):
        attribution.add([DecidedFrame(2, 60.0, frozenset())])


def test_frames_of_an_event_that_may_be_dropped_as_faint_wait_for_its_report() -> None:
    settings_ = DetectorSettings(("music",), median_filter_frames=1, unknown_level_db=None)
    detector = EventDetector(settings_)
    scores = one_class([0.0] * 10 + [0.9] * 10)
    attribution = EnergyAttribution()
    for frame in make_frames(scores, levels_db=[60.0] * 10 + [70.0] * 10):
        detector.push(frame)
        attribution.add(detector.pop_decided_frames())
    # Its prominence is known once it ends: until then its frames are not settled.
    assert attribution.settled_until == 10
    detector.flush()
    attribution.add(detector.pop_decided_frames())
    assert attribution.shares(10, 20) == {"music": 1.0, "background": 0.0}
