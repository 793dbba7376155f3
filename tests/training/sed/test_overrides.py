"""Detector overrides from the command line: typed, validated, one-line errors."""

from __future__ import annotations

import pytest

from noisefleet_core.events import DetectorSettings
from noisefleet_training.sed.overrides import OverrideError, apply_overrides, parse_overrides

LABELS = ("dog_bark", "ambient")


def test_values_are_typed_by_field() -> None:
    parsed = parse_overrides(["merge_gap_s=2", "median_filter_frames=9", "min_duration_s=0.6"])
    assert parsed == {"merge_gap_s": 2.0, "median_filter_frames": 9, "min_duration_s": 0.6}
    assert isinstance(parsed["median_filter_frames"], int)
    assert isinstance(parsed["merge_gap_s"], float)
    assert parse_overrides([]) == {}


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("merge_gap_s", "is not KEY=VALUE"),
        ("frame_s=0.2", "is not one of"),
        ("median_filter_frames=4.5", "needs a int"),
        ("min_duration_s=long", "needs a float"),
    ],
)
def test_bad_pairs_are_one_line_errors(pair: str, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        parse_overrides([pair])


def test_applied_overrides_keep_the_rest_and_are_checked() -> None:
    base = DetectorSettings(LABELS, non_event_labels=("ambient",))
    tuned = apply_overrides(
        base, {"default_onset_threshold": 0.3, "default_offset_threshold": 0.18}
    )
    assert tuned.onset_threshold("dog_bark") == 0.3
    assert tuned.offset_threshold("dog_bark") == 0.18
    assert tuned.merge_gap_s == base.merge_gap_s
    assert tuned.non_event_labels == ("ambient",)
    # an onset of 0.2 under the default offset of 0.3 is refused
    with pytest.raises(OverrideError, match="offset <= onset"):
        apply_overrides(base, {"default_onset_threshold": 0.2})
    with pytest.raises(OverrideError, match="odd whole number"):
        apply_overrides(base, {"median_filter_frames": 4})
