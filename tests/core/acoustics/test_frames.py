"""Frame levels from the meter: known values, and the same frames for any block sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.acoustics.frames import FrameAccumulator
from noisefleet_core.acoustics.meter import MeterConfigError, MeterSettings, SoundLevelMeter

FS = 16000


def _frames(x: np.ndarray, blocks: list[int], frame_s: float = 0.1) -> list:
    meter = SoundLevelMeter(MeterSettings(FS, interval_s=1.0, frame_s=frame_s))
    frames = []
    start = 0
    for size in [*blocks, x.size]:
        meter.process(x[start : start + size])
        frames.extend(meter.pop_frames())
        start += size
        if start >= x.size:
            break
    meter.flush()
    return frames + meter.pop_frames()


def test_a_steady_tone_reads_its_level_in_every_settled_frame() -> None:
    t = np.arange(2 * FS) / FS
    x = 0.1 * np.sin(2 * np.pi * 1000 * t)  # -20 dBFS
    frames = _frames(x, [])
    assert [f.index for f in frames] == list(range(20))
    assert all(f.samples == 1600 for f in frames)
    for frame in frames[7:]:  # after the F detector's warm-up (5 tau = 0.625 s)
        assert frame.laeq_db == pytest.approx(-20.0, abs=0.02)
        assert frame.lafmax_db == pytest.approx(-20.0, abs=0.05)


def test_a_burst_shows_in_its_frame_only() -> None:
    x = np.zeros(FS)
    t = np.arange(1600) / FS
    x[8000:9600] = 0.5 * np.sin(2 * np.pi * 1000 * t)  # a 1 kHz burst filling frame 5
    frames = _frames(x, [])
    loudest = max(frames, key=lambda f: f.laeq_db)
    assert loudest.index == 5
    assert frames[4].laeq_db < loudest.laeq_db - 30


def test_a_partial_last_frame_comes_with_flush() -> None:
    frames = _frames(np.full(2500, 0.01), [])
    assert [f.samples for f in frames] == [1600, 900]


@settings(max_examples=30, deadline=None, database=None)
@given(
    seed=st.integers(0, 1000),
    blocks=st.lists(st.integers(1, 5000), min_size=1, max_size=12),
)
def test_frames_do_not_depend_on_block_sizes(seed: int, blocks: list[int]) -> None:
    x = np.random.default_rng(seed).standard_normal(FS) * 0.05
    whole = _frames(x, [])
    split = _frames(x, blocks)
    assert [f.index for f in split] == [f.index for f in whole]
    np.testing.assert_allclose([f.laeq_db for f in split], [f.laeq_db for f in whole], atol=1e-9)
    np.testing.assert_allclose(
        [f.lafmax_db for f in split], [f.lafmax_db for f in whole], atol=1e-9
    )


def test_frame_settings_are_checked() -> None:
    with pytest.raises(MeterConfigError, match="frames"):
        MeterSettings(FS, interval_s=1.0, frame_s=2.0)
    with pytest.raises(ValueError, match="sample"):
        FrameAccumulator(0, 0.0)
    meter = SoundLevelMeter(MeterSettings(FS))
    meter.process(np.zeros(FS))
    assert meter.pop_frames() == []
