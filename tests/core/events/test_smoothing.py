"""Median filtering of frame scores: spikes removed, dropouts filled, streaming = whole sequence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.events.smoothing import RunningMedian, StreamingMedianFilter, median_filter


def _stream(values: np.ndarray, width: int) -> np.ndarray:
    smoother = StreamingMedianFilter(width)
    outputs = [out for row in values for out in smoother.push(row)]
    outputs.extend(smoother.flush())
    return np.array(outputs).reshape(values.shape)


def test_one_frame_spike_is_removed_and_dropout_filled() -> None:
    spike = np.array([[0.0], [0.0], [0.0], [0.9], [0.0], [0.0], [0.0]])
    np.testing.assert_array_equal(median_filter(spike, 5), np.zeros((7, 1)))
    dropout = np.array([[0.9], [0.9], [0.9], [0.0], [0.9], [0.9], [0.9]])
    np.testing.assert_array_equal(median_filter(dropout, 5), np.full((7, 1), 0.9))


def test_edges_use_truncated_windows() -> None:
    values = np.array([[1.0], [0.0], [0.0], [4.0]])
    # Frame 0: median of frames 0..2; frame 3: median of frames 1..3; frame 1: frames 0..3.
    np.testing.assert_allclose(median_filter(values, 5)[:, 0], [0.0, 0.5, 0.5, 0.0])


def test_streaming_lags_by_half_the_width() -> None:
    smoother = StreamingMedianFilter(5)
    assert smoother.delay_frames == 2
    assert smoother.push(np.array([1.0])) == []
    assert smoother.push(np.array([1.0])) == []
    assert len(smoother.push(np.array([1.0]))) == 1
    assert len(smoother.flush()) == 2
    assert smoother.flush() == []


@pytest.mark.parametrize("width", [0, 2])
def test_even_or_zero_width_is_refused(width: int) -> None:
    with pytest.raises(ValueError, match="odd"):
        StreamingMedianFilter(width)
    with pytest.raises(ValueError, match="odd"):
        median_filter(np.zeros((3, 1)), width)


@settings(max_examples=60, deadline=None)
@given(
    width=st.sampled_from([1, 3, 5, 7]),
    values=st.lists(st.lists(st.floats(0, 1), min_size=2, max_size=2), min_size=0, max_size=30),
)
def test_streaming_equals_whole_sequence(width: int, values: list[list[float]]) -> None:
    array = np.array(values, dtype=np.float64).reshape(len(values), 2)
    np.testing.assert_array_equal(_stream(array, width), median_filter(array, width))


@pytest.mark.parametrize("size", [1, 2, 5, 300])
def test_running_median_equals_numpy_median_of_the_last_values(size: int) -> None:
    rng = np.random.default_rng(size)
    # Rounded levels repeat, as a meter's do: duplicates must leave in the right order.
    values = [float(v) for v in np.round(rng.normal(50.0, 5.0, 1500), 1)]
    running = RunningMedian(size)
    for i, value in enumerate(values):
        running.push(value)
        assert len(running) == min(i + 1, size)
        assert running.median() == float(np.median(values[max(0, i + 1 - size) : i + 1]))


def test_running_median_refuses_bad_use() -> None:
    with pytest.raises(ValueError, match="size"):
        RunningMedian(0)
    with pytest.raises(ValueError, match="no values"):
        RunningMedian(3).median()


def test_streaming_filter_is_bit_identical_to_numpy_median() -> None:
    # Full windows take the sorted middle instead of np.median: the same numbers, exactly.
    scores = np.random.default_rng(7).random((400, 11))
    scores[::13] = 0.0  # frames without scores count as zeros
    streaming = StreamingMedianFilter(5)
    outputs = [out for row in scores for out in streaming.push(row)] + streaming.flush()
    assert np.array_equal(np.array(outputs), median_filter(scores, 5))
