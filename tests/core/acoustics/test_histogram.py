"""Level histograms: binning, merging, percentile read-out and the wire form."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.acoustics.histogram import (
    BIN_WIDTH_DB,
    LevelHistogram,
    exceeded_level,
    exceeded_levels,
    merge_histograms,
    sample_exceeded_levels,
)


def test_from_levels_bins_by_floor() -> None:
    histogram = LevelHistogram.from_levels([50.05, 50.01, 50.15, 50.35, -0.05, np.nan, np.inf])
    # bin i covers [i*0.1, (i+1)*0.1); non-finite values are dropped.
    assert histogram.first_bin == -1
    assert histogram.bin_width_db == BIN_WIDTH_DB
    assert histogram.total == 5
    counts = dict(enumerate(histogram.counts, start=histogram.first_bin))
    assert counts[-1] == 1
    assert counts[500] == 2
    assert counts[501] == 1
    assert counts[502] == 0
    assert counts[503] == 1
    assert sum(counts.values()) == 5
    assert len(histogram.counts) == 503 - (-1) + 1


def test_from_levels_of_nothing_is_empty() -> None:
    for values in ([], [np.nan, -np.inf]):
        histogram = LevelHistogram.from_levels(values)
        assert histogram.total == 0
        assert histogram.counts == ()
        assert exceeded_level(histogram, 50.0) is None
    assert exceeded_level(LevelHistogram.empty(), 10.0) is None
    assert exceeded_levels(LevelHistogram.empty(), (10.0, 90.0)) == (None, None)
    assert sample_exceeded_levels([], (10.0, 90.0)) == (None, None)


def test_single_value_percentiles_stay_in_its_bin() -> None:
    histogram = LevelHistogram.from_levels([72.34] * 10)
    for percent in (0.0, 10.0, 50.0, 90.0, 100.0):
        value = exceeded_level(histogram, percent)
        assert value is not None
        assert 72.3 - 1e-9 <= value <= 72.4 + 1e-9


def test_exceeded_level_interpolates_within_the_bin() -> None:
    # 10 samples spread over one bin [60.0, 60.1): L50 is the middle of the bin.
    histogram = LevelHistogram(600, (10,))
    assert exceeded_level(histogram, 50.0) == pytest.approx(60.05, abs=1e-9)
    assert exceeded_level(histogram, 90.0) == pytest.approx(60.01, abs=1e-9)
    assert exceeded_level(histogram, 100.0) == pytest.approx(60.0, abs=1e-9)
    assert exceeded_level(histogram, 0.0) == pytest.approx(60.1, abs=1e-9)


def test_exceeded_level_skips_empty_bins() -> None:
    # Half the samples at 40 dB, half at 80 dB, nothing between.
    levels = [40.05] * 50 + [80.05] * 50
    histogram = LevelHistogram.from_levels(levels)
    l10 = exceeded_level(histogram, 10.0)
    l90 = exceeded_level(histogram, 90.0)
    assert l10 is not None
    assert l90 is not None
    assert 80.0 - 1e-9 <= l10 <= 80.1 + 1e-9
    assert 40.0 - 1e-9 <= l90 <= 40.1 + 1e-9


@pytest.mark.parametrize("percent", [-0.1, 100.1, 200.0])
def test_exceeded_level_rejects_bad_percent(percent: float) -> None:
    with pytest.raises(ValueError, match="percent"):
        exceeded_level(LevelHistogram.from_levels([50.0]), percent)


def test_sample_exceeded_levels_from_raw_samples() -> None:
    samples = np.arange(101, dtype=np.float64)  # 0..100 dB
    l10, l50, l90 = sample_exceeded_levels(samples, (10.0, 50.0, 90.0))
    assert l10 == pytest.approx(90.0)
    assert l50 == pytest.approx(50.0)
    assert l90 == pytest.approx(10.0)


def test_exceeded_levels_of_evenly_spread_samples() -> None:
    samples = np.arange(0.05, 100.0, 0.1)  # one sample in the middle of every bin, 0..100 dB
    l10, l50, l90 = exceeded_levels(LevelHistogram.from_levels(samples), (10.0, 50.0, 90.0))
    assert l10 == pytest.approx(90.0, abs=0.1)
    assert l50 == pytest.approx(50.0, abs=0.1)
    assert l90 == pytest.approx(10.0, abs=0.1)


@settings(max_examples=60, deadline=None, database=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(1000, 4000), min_size=3, max_size=8),
)
def test_merged_histogram_percentiles_match_all_samples(seed: int, sizes: list[int]) -> None:
    # Dense, unimodal level samples (several per 0.1 dB bin near L10..L90), as an hour of 10 ms
    # L_AF samples gives. With sparse or clustered samples np.percentile interpolates across
    # empty gaps between samples, which a histogram (whose answer always lies in an occupied
    # bin) deliberately does not, so the two conventions can differ by more than a bin there.
    rng = np.random.default_rng(seed)
    parts = [rng.normal(rng.uniform(55, 65), rng.uniform(2.0, 6.0), size) for size in sizes]
    merged = merge_histograms(LevelHistogram.from_levels(p) for p in parts)
    everything = np.concatenate(parts)
    assert merged.total == everything.size
    assert merged == LevelHistogram.from_levels(everything)
    for percent in (10.0, 50.0, 90.0):
        from_histogram = exceeded_level(merged, percent)
        assert from_histogram is not None
        exact = float(np.percentile(everything, 100.0 - percent))
        assert abs(from_histogram - exact) <= BIN_WIDTH_DB + 1e-9


def test_merge_of_disjoint_ranges_and_empties() -> None:
    low = LevelHistogram.from_levels([30.0, 30.05, 31.0])
    high = LevelHistogram.from_levels([90.0])
    merged = merge_histograms([LevelHistogram.empty(), high, low, LevelHistogram.empty()])
    assert merged.first_bin == low.first_bin
    assert merged.total == 4
    assert merged.first_bin + len(merged.counts) - 1 == high.first_bin
    assert merge_histograms([]).total == 0
    assert merge_histograms([LevelHistogram.empty()]).counts == ()


def test_merge_rejects_different_bin_widths() -> None:
    with pytest.raises(ValueError, match="bin width"):
        merge_histograms(
            [LevelHistogram.from_levels([50.0]), LevelHistogram.from_levels([50.0], 0.5)]
        )


def test_wire_round_trip_through_json() -> None:
    histogram = LevelHistogram.from_levels(np.random.default_rng(3).normal(60, 5, 1000))
    wire = histogram.to_wire()
    assert wire == {
        "bin_width_db": BIN_WIDTH_DB,
        "first_bin": histogram.first_bin,
        "counts": list(histogram.counts),
    }
    restored = LevelHistogram.from_wire(json.loads(json.dumps(wire)))
    assert restored == histogram
    assert exceeded_level(restored, 50.0) == exceeded_level(histogram, 50.0)
    empty = LevelHistogram.from_wire(json.loads(json.dumps(LevelHistogram.empty().to_wire())))
    assert empty == LevelHistogram.empty()


def test_from_wire_defaults_the_bin_width() -> None:
    restored = LevelHistogram.from_wire({"first_bin": 700, "counts": [1, 2]})
    assert restored == LevelHistogram(700, (1, 2), BIN_WIDTH_DB)
    assert restored.total == 3


@pytest.mark.parametrize(
    "wire",
    [
        {"first_bin": 0, "counts": [1, -1]},
        {"first_bin": 0, "counts": [1.5]},
        {"first_bin": 0, "counts": ["3"]},
        {"first_bin": 0, "counts": "1,2"},
        {"first_bin": 0, "counts": None},
        {"first_bin": 1.5, "counts": [1]},
        {"first_bin": "0", "counts": [1]},
        {"first_bin": 0, "counts": [1], "bin_width_db": "0.1"},
    ],
)
def test_from_wire_rejects_bad_data(wire: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="histogram"):
        LevelHistogram.from_wire(wire)


@pytest.mark.parametrize("width", [0, 0.0, -0.1, float("nan"), float("inf")])
def test_from_wire_rejects_unusable_bin_widths(width: float) -> None:
    # A width that is not a positive finite number turns every percentile into garbage
    # (0 dB, negative or NaN levels), so wire data carrying one must be refused.
    with pytest.raises(ValueError, match="histogram"):
        LevelHistogram.from_wire({"first_bin": 600, "counts": [1, 2], "bin_width_db": width})
