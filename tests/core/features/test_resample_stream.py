"""Streaming resampling equals scipy's resample_poly on the whole signal, however it is cut."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from noisefleet_core.features.resample import MAX_DENOMINATOR, StreamingResampler, resample

# (from_hz, to_hz, output samples held back)
RATES = [
    (48000, 16000, 10),
    (44100, 16000, 10),
    (22050, 16000, 10),
    (8000, 16000, 20),
    (16000, 16000, 0),
]
RATE_IDS = [f"{source}-{target}" for source, target, _ in RATES]
TOLERANCE = 1e-12


def _reference(x: np.ndarray, source: int, target: int) -> np.ndarray:
    ratio = Fraction(target, source).limit_denominator(MAX_DENOMINATOR)
    if x.size == 0:
        return np.zeros(0)
    return np.asarray(signal.resample_poly(x, ratio.numerator, ratio.denominator))


def _stream(resampler: StreamingResampler, blocks: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.zeros(0)] + [resampler.process(block) for block in blocks])


@pytest.mark.parametrize(("source", "target", "latency"), RATES, ids=RATE_IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_block_partition_matches_resample_poly(
    source: int, target: int, latency: int, data: st.DataObject
) -> None:
    n = data.draw(st.integers(0, 1500), label="samples")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    # Repeated and adjacent cut points give empty and one-sample blocks.
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=25), label="cuts"))
    x = np.random.default_rng(seed).standard_normal(n)
    reference = _reference(x, source, target)

    resampler = StreamingResampler(source, target)
    assert resampler.latency_samples == latency
    emitted = _stream(resampler, np.split(x, cuts))
    # What the stream has emitted is final, and what it holds back is the rest.
    np.testing.assert_allclose(emitted, reference[: emitted.size], rtol=0, atol=TOLERANCE)
    assert resampler.pending_samples == reference.size - emitted.size
    assert resampler.pending_samples <= latency

    tail = resampler.flush()
    assert tail.dtype == np.float64
    np.testing.assert_allclose(np.concatenate((emitted, tail)), reference, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(("source", "target", "latency"), RATES, ids=RATE_IDS)
def test_one_sample_at_a_time_matches_one_block(source: int, target: int, latency: int) -> None:
    x = np.random.default_rng(3).standard_normal(700)
    one_by_one = StreamingResampler(source, target)
    outputs = [one_by_one.process(x[i : i + 1]) for i in range(x.size)]
    assert max(out.size for out in outputs) == -(-one_by_one.up // one_by_one.down)
    whole = StreamingResampler(source, target)
    np.testing.assert_allclose(np.concatenate(outputs), whole.process(x), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(one_by_one.flush(), whole.flush(), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(("source", "target", "latency"), RATES, ids=RATE_IDS)
def test_output_lengths(source: int, target: int, latency: int) -> None:
    resampler = StreamingResampler(source, target)
    fed = 0
    emitted = 0
    for size in [0, 1, 2, 3, 50, 0, 441, 1000, 7, 4410, 1]:
        emitted += resampler.process(np.ones(size)).size
        fed += size
        total = -(-fed * resampler.up // resampler.down)  # ceil(n * up / down)
        assert emitted + resampler.pending_samples == total
        assert resampler.pending_samples <= latency
    # Once the filter is full the stream holds back the latency, or one sample less.
    assert resampler.pending_samples >= latency - 1
    assert emitted + resampler.flush().size == -(-fed * target // source)


@pytest.mark.parametrize(("source", "target", "latency"), RATES, ids=RATE_IDS)
def test_flush_of_an_empty_stream_is_empty_and_flush_restarts(
    source: int, target: int, latency: int
) -> None:
    resampler = StreamingResampler(source, target)
    empty = resampler.flush()
    assert empty.shape == (0,)
    assert empty.dtype == np.float64
    assert resampler.process(np.zeros(0)).shape == (0,)
    assert resampler.flush().shape == (0,)

    x = np.random.default_rng(5).standard_normal(2000)
    first = np.concatenate((resampler.process(x), resampler.flush()))
    assert resampler.flush().shape == (0,)
    assert resampler.pending_samples == 0
    second = np.concatenate((resampler.process(x), resampler.flush()))
    np.testing.assert_array_equal(first, second)


def test_equal_rates_pass_blocks_through_without_delay() -> None:
    resampler = StreamingResampler(16000, 16000)
    assert resampler.latency_samples == 0
    block = np.arange(5.0)
    out = resampler.process(block)
    np.testing.assert_array_equal(out, block)
    assert not np.shares_memory(out, block)
    assert resampler.pending_samples == 0
    assert resampler.flush().shape == (0,)


@pytest.mark.parametrize(("source", "target", "latency"), RATES, ids=RATE_IDS)
def test_one_shot_resample_matches_resample_poly(source: int, target: int, latency: int) -> None:
    x = np.random.default_rng(11).standard_normal(3 * source + 17)
    np.testing.assert_allclose(
        resample(x, source, target), _reference(x, source, target), rtol=0, atol=1e-10
    )


def test_integer_and_float32_blocks_give_float64() -> None:
    resampler = StreamingResampler(48000, 16000)
    assert resampler.process(np.arange(300, dtype=np.int16)).dtype == np.float64
    assert resampler.process(np.ones(300, dtype=np.float32)).dtype == np.float64
    assert resampler.flush().dtype == np.float64


@pytest.mark.parametrize(("source", "target"), [(0, 16000), (16000, 0), (-48000, 16000)])
def test_non_positive_rates_are_refused(source: int, target: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        StreamingResampler(source, target)
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(10), source, target)


def test_blocks_must_be_one_dimensional() -> None:
    resampler = StreamingResampler(48000, 16000)
    with pytest.raises(ValueError, match="1-D"):
        resampler.process(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="1-D"):
        resampler.process(1.0)
