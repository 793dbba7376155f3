"""The reorder buffer: order, loss as NaN, duplicates, late frames, restarts (pure)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_edge.sources.bridge.reorder import ReorderBuffer

N = 10  # samples per frame


def buffer(window_frames: int = 3) -> ReorderBuffer:
    return ReorderBuffer(
        window_samples=window_frames * N,
        restart_back_samples=100 * N,
        restart_forward_samples=1000 * N,
    )


def frame(index: int, offset: int = 0) -> np.ndarray:
    return np.arange(N, dtype=np.float64) + 100 * index + offset


def push(buf: ReorderBuffer, index: int, base: int = 0, counter: int | None = None) -> np.ndarray:
    pieces = buf.push(base + index * N, index if counter is None else counter, frame(index))
    return np.concatenate(pieces) if pieces else np.zeros(0)


def test_in_order_frames_come_out_at_once() -> None:
    buf = buffer()
    for i in range(4):
        np.testing.assert_array_equal(push(buf, i), frame(i))
    assert buf.counters.reordered_frames == 0
    assert buf.counters.lost_samples == 0
    assert buf.next_sample == 4 * N


def test_a_frame_that_arrives_after_a_later_one_is_put_in_place() -> None:
    buf = buffer()
    push(buf, 0)
    assert len(push(buf, 2)) == 0  # held: frame 1 may still come
    assert buf.held_frames == 1
    np.testing.assert_array_equal(push(buf, 1), np.concatenate([frame(1), frame(2)]))
    assert buf.counters.reordered_frames == 1
    assert buf.counters.lost_samples == 0


def test_a_lost_frame_becomes_nan_of_its_exact_length_once_the_window_is_passed() -> None:
    buf = buffer(window_frames=2)
    push(buf, 0)
    assert len(push(buf, 2)) == 0  # the gap's start is 2 frames behind the newest sample
    out = push(buf, 3)  # 3 frames behind: more than the window, frame 1 had its chance
    assert len(out) == 3 * N
    assert np.isnan(out[:N]).all()
    np.testing.assert_array_equal(out[N:], np.concatenate([frame(2), frame(3)]))
    assert buf.counters.dropped_frames == 1
    assert buf.counters.lost_samples == N


def test_the_frame_counter_tells_how_many_frames_a_gap_held() -> None:
    buf = buffer(window_frames=0)
    push(buf, 0)
    out = push(buf, 3)
    assert np.isnan(out[: 2 * N]).all()
    assert len(out) == 3 * N
    assert buf.counters.dropped_frames == 2
    # A counter that does not fit the gap (an MCU that resets it) falls back to an estimate.
    push(buf, 6, counter=0)
    assert buf.counters.dropped_frames == 4
    assert buf.counters.lost_samples == 4 * N


def test_duplicates_and_late_frames_are_dropped_and_counted() -> None:
    buf = buffer(window_frames=1)
    push(buf, 0)
    assert len(push(buf, 0)) == 0
    push(buf, 2)
    assert len(push(buf, 2)) == 0  # duplicate of a held frame
    out = push(buf, 4)  # frame 1 and 3 given up on
    assert np.isnan(out).sum() == N
    assert len(push(buf, 1)) == 0  # its place was already delivered as NaN
    assert buf.counters.duplicate_frames == 2
    assert buf.counters.late_frames == 1


def test_an_mcu_restart_starts_a_new_stream_without_nan() -> None:
    buf = buffer()
    base = 10_000 * N
    for i in range(3):
        push(buf, i, base=base)
    out = push(buf, 0)  # the MCU rebooted: its sample index starts over
    np.testing.assert_array_equal(out, frame(0))
    assert buf.counters.restarts == 1
    assert buf.counters.lost_samples == 0
    assert buf.last_restart is not None
    assert "jumped back" in buf.last_restart
    np.testing.assert_array_equal(push(buf, 1), frame(1))


def test_a_jump_forward_beyond_the_limit_is_a_restart_and_within_it_a_gap() -> None:
    buf = buffer(window_frames=0)
    push(buf, 0)
    out = push(buf, 500)  # within 1000 frames: NaN for the gap
    assert np.isnan(out).sum() == 499 * N
    out = push(buf, 5000)  # far beyond: a new stream
    np.testing.assert_array_equal(out, frame(5000))
    assert buf.counters.restarts == 1
    assert buf.counters.lost_samples == 499 * N
    assert buf.last_restart is not None
    assert "jumped forward" in buf.last_restart


def test_a_restart_releases_what_was_held_first() -> None:
    buf = buffer()
    push(buf, 0, base=5000 * N)
    push(buf, 2, base=5000 * N)
    out = push(buf, 0)
    assert len(out) == 3 * N
    assert np.isnan(out[:N]).all()
    np.testing.assert_array_equal(out[N : 2 * N], frame(2))
    np.testing.assert_array_equal(out[2 * N :], frame(0))


def test_flush_releases_held_frames_with_their_gaps() -> None:
    buf = buffer(window_frames=5)
    push(buf, 0)
    push(buf, 3)
    pieces = buf.flush()
    out = np.concatenate(pieces)
    assert len(out) == 3 * N
    assert np.isnan(out[: 2 * N]).all()
    np.testing.assert_array_equal(out[2 * N :], frame(3))
    assert buf.held_frames == 0
    assert buf.flush() == []


def test_overlapping_frames_are_trimmed_to_what_is_new() -> None:
    buf = buffer()
    push(buf, 0)
    out = buf.push(5, 1, np.arange(10, dtype=np.float64))
    np.testing.assert_array_equal(np.concatenate(out), np.arange(5, 10))


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        ReorderBuffer(-1, 10, 100)
    with pytest.raises(ValueError, match="restart limits"):
        ReorderBuffer(50, 10, 40)


@settings(max_examples=80, deadline=None)
@given(count=st.integers(3, 40), data=st.data())
def test_any_arrival_order_within_the_window_gives_the_stream_with_nan_holes(
    count: int, data: st.DataObject
) -> None:
    lost = data.draw(st.sets(st.integers(1, count - 2), max_size=count // 2))
    later = data.draw(st.permutations([i for i in range(1, count) if i not in lost]))
    buf = buffer(window_frames=count)  # the first frame starts the stream; the rest may shuffle
    pieces: list[np.ndarray] = []
    for i in [0, *later]:
        pieces += buf.push(i * N, i, frame(i))
    pieces += buf.flush()
    out = np.concatenate(pieces)
    expected = np.concatenate([np.full(N, np.nan) if i in lost else frame(i) for i in range(count)])
    np.testing.assert_array_equal(out, expected)
    assert buf.counters.lost_samples == len(lost) * N
    assert buf.counters.dropped_frames == len(lost)
    assert buf.counters.late_frames == buf.counters.duplicate_frames == 0
