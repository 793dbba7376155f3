"""The numpy biquad cascade equals scipy's sosfilt, for any block split, at every tap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from noisefleet_core.acoustics.iir import CHUNK, SosCascade
from noisefleet_core.acoustics.weighting import design_weighting

RELATIVE_TOLERANCE = 1e-10


def _weighting_cascade(fs: int) -> np.ndarray:
    design = design_weighting(fs)
    return np.vstack([design.c_sos, design.a_from_c_sos])


def _reference(sos: np.ndarray, x: np.ndarray, sections: int) -> np.ndarray:
    return np.asarray(signal.sosfilt(np.array(sos[:sections]), x))


def _assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    scale = float(np.max(np.abs(expected)))
    assert scale > 0
    assert float(np.max(np.abs(actual - expected))) <= RELATIVE_TOLERANCE * scale


def _signal(fs: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(seconds * fs)
    t = np.arange(n) / fs
    # Broadband noise plus a strong 12 Hz tone: the low end is where the C poles sit.
    return 0.1 * rng.standard_normal(n) + 0.5 * np.sin(2 * np.pi * 12 * t)


@pytest.mark.parametrize("fs", [8000, 16000, 44100, 48000, 96000])
def test_weighting_cascade_matches_sosfilt_at_both_taps(fs: int) -> None:
    sos = _weighting_cascade(fs)
    x = _signal(fs, 2.0, seed=fs)
    cascade = SosCascade(sos, (2, 3))
    out = cascade.process(x)
    assert out.shape == (2, x.size)
    _assert_close(out[0], _reference(sos, x, 3))
    _assert_close(out[1], _reference(sos, x, 4))


@settings(max_examples=30, deadline=None, database=None)
@given(
    sizes=st.lists(
        st.one_of(st.integers(0, 3 * CHUNK), st.integers(0, 20000)), min_size=1, max_size=25
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_block_split_gives_the_same_output(sizes: list[int], seed: int) -> None:
    fs = 16000
    sos = _weighting_cascade(fs)
    x = _signal(fs, 2.5, seed)
    cascade = SosCascade(sos, (3,))
    pieces, position = [], 0
    for size in sizes:
        block = x[position : position + size]
        out = cascade.process(block)
        assert out.shape == (1, block.size)
        pieces.append(out[0])
        position += block.size
    pieces.append(cascade.process(x[position:])[0])
    _assert_close(np.concatenate(pieces), _reference(sos, x, 4))


def test_state_carries_like_sosfilt_zi() -> None:
    sos = _weighting_cascade(48000)
    x = _signal(48000, 0.5, seed=3)
    cascade = SosCascade(sos, (3,))
    first = cascade.process(x[:1000])[0]
    _, zi = signal.sosfilt(np.array(sos), x[:1000], zi=np.zeros((4, 2)))
    _assert_close(first, _reference(sos, x[:1000], 4))
    rest, _ = signal.sosfilt(np.array(sos), x[1000:], zi=zi)
    _assert_close(cascade.process(x[1000:])[0], np.asarray(rest))


def test_general_sections_and_an_empty_block() -> None:
    sos = signal.butter(6, [300, 3000], btype="bandpass", fs=16000, output="sos")
    x = _signal(16000, 1.0, seed=9)
    cascade = SosCascade(sos, (0, sos.shape[0] - 1))
    assert cascade.process(np.zeros(0)).shape == (2, 0)
    out = cascade.process(x)
    _assert_close(out[0], _reference(sos, x, 1))
    _assert_close(out[1], _reference(sos, x, sos.shape[0]))


@pytest.mark.parametrize(("sos", "taps"), [(np.zeros((0, 6)), (0,)), (np.ones((2, 5)), (0,))])
def test_bad_sections_are_refused(sos: np.ndarray, taps: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="sos"):
        SosCascade(sos, taps)


def test_taps_must_name_sections() -> None:
    with pytest.raises(ValueError, match="taps"):
        SosCascade(np.array([[1.0, 0, 0, 1.0, 0, 0]]), (1,))
