"""The chunked exponential averager equals the plain first-order recursion for any block split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from noisefleet_core.acoustics.time_weighting import (
    CHUNK,
    TAU_FAST_S,
    TAU_SLOW_S,
    ExponentialAverager,
)


def _reference(x: np.ndarray, decay: float, initial: float = 0.0) -> np.ndarray:
    """y[n] = a*y[n-1] + (1-a)*x[n] with y[-1] = initial, by scipy's direct-form filter."""
    y, _ = signal.lfilter([1.0 - decay], [1.0, -decay], x, zi=[decay * initial])
    return np.asarray(y)


def _run_blocks(averager: ExponentialAverager, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    outputs = []
    position = 0
    for size in sizes:
        block = x[position : position + size]
        out = averager.process(block)
        assert out.shape == block.shape
        outputs.append(out)
        position += size
    outputs.append(averager.process(x[position:]))
    return np.concatenate(outputs)


def _assert_relative_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    assert np.all(expected > 0)
    relative = np.abs(actual - expected) / expected
    assert float(np.max(relative)) <= 1e-12


@pytest.mark.parametrize("fs", [8000, 16000, 48000])
@pytest.mark.parametrize("tau", [TAU_FAST_S, TAU_SLOW_S])
def test_decay_constant(fs: int, tau: float) -> None:
    averager = ExponentialAverager(fs, tau)
    assert averager.decay == pytest.approx(math.exp(-1.0 / (fs * tau)), rel=1e-15)
    assert averager.value == 0.0


BLOCK_SIZES = [
    0,
    1,
    0,
    1,
    CHUNK - 1,
    CHUNK,
    CHUNK + 1,
    0,
    3 * CHUNK + 17,
    2,
    1000,
    5 * CHUNK - 3,
    1,
    0,
    7777,
]


@pytest.mark.parametrize("fs", [16000, 48000])
@pytest.mark.parametrize("tau", [TAU_FAST_S, TAU_SLOW_S])
def test_fixed_awkward_blocks_match_lfilter(fs: int, tau: float) -> None:
    rng = np.random.default_rng(1234)
    x = rng.random(30000) ** 4 + 1e-6  # positive, widely varying
    averager = ExponentialAverager(fs, tau)
    result = _run_blocks(averager, x, BLOCK_SIZES)
    expected = _reference(x, averager.decay)
    _assert_relative_close(result, expected)
    assert averager.value == pytest.approx(expected[-1], rel=1e-12)


def test_whole_signal_at_once_matches_lfilter_and_empty_block_keeps_state() -> None:
    rng = np.random.default_rng(7)
    x = rng.exponential(size=48000)
    averager = ExponentialAverager(48000, TAU_FAST_S)
    result = averager.process(x)
    _assert_relative_close(result, _reference(x, averager.decay))
    before = averager.value
    empty = averager.process(np.empty(0))
    assert empty.shape == (0,)
    assert averager.value == before


def test_initial_value_is_the_state_before_the_first_sample() -> None:
    rng = np.random.default_rng(99)
    x = rng.random(5000) + 0.01
    averager = ExponentialAverager(16000, TAU_SLOW_S, initial=3.5)
    result = _run_blocks(averager, x, [1, 300, 0, 257])
    _assert_relative_close(result, _reference(x, averager.decay, initial=3.5))


def test_step_response_reaches_one_minus_exp_after_one_tau() -> None:
    fs = 16000
    averager = ExponentialAverager(fs, TAU_FAST_S)
    y = averager.process(np.ones(round(fs * TAU_FAST_S)))
    # After exactly fs*tau samples the output is 1 - a^(fs*tau) = 1 - e^-1.
    assert y[-1] == pytest.approx(1.0 - math.exp(-1.0), rel=1e-12)


def test_non_positive_time_constant_is_rejected() -> None:
    with pytest.raises(ValueError, match="time constant"):
        ExponentialAverager(48000, 0.0)
    with pytest.raises(ValueError, match="time constant"):
        ExponentialAverager(48000, -0.125)


@settings(max_examples=40, deadline=None, database=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6000),
    sizes=st.lists(
        st.one_of(st.integers(0, 3), st.integers(0, 3 * CHUNK + 5), st.integers(0, 3000)),
        max_size=30,
    ),
    fs=st.sampled_from([8000, 16000, 44100, 48000]),
    tau=st.sampled_from([TAU_FAST_S, TAU_SLOW_S]),
    initial=st.sampled_from([0.0, 1e-3, 2.0]),
)
def test_random_blocks_match_lfilter(
    seed: int, n: int, sizes: list[int], fs: int, tau: float, initial: float
) -> None:
    rng = np.random.default_rng(seed)
    # Positive input spanning many orders of magnitude, as squared pressure does.
    x = 10.0 ** rng.uniform(-6.0, 0.0, size=n)
    averager = ExponentialAverager(fs, tau, initial=initial)
    result = _run_blocks(averager, x, sizes)
    _assert_relative_close(result, _reference(x, averager.decay, initial=initial))
