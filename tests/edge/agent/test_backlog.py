"""The sensor backlog: bounded audio, oldest dropped first, dropped audio kept as one gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from noisefleet_edge.agent.backlog import Backlog

T0 = datetime(2026, 11, 24, tzinfo=UTC)


def _block(value: float, size: int = 10) -> np.ndarray:
    return np.full(size, value)


def test_blocks_come_out_in_order_while_under_the_limit() -> None:
    backlog = Backlog(100)
    for i in range(5):
        assert backlog.push(_block(i), T0 + timedelta(seconds=i)) == 0
    out = []
    while (entry := backlog.pop()) is not None:
        item, _ = entry
        assert not isinstance(item, int)
        out.append(item[0])
    assert out == [0, 1, 2, 3, 4]
    assert backlog.held_samples == 0


def test_overflow_drops_the_oldest_audio_into_one_gap_of_the_same_length() -> None:
    backlog = Backlog(30)
    for i in range(6):
        backlog.push(_block(i), T0 + timedelta(seconds=i))
    # 60 samples pushed, 30 may be held: blocks 0, 1 and 2 became one 30-sample gap.
    assert backlog.held_samples == 30
    assert backlog.dropped_blocks == 3
    assert backlog.dropped_samples == 30
    gap, arrived = backlog.pop()  # type: ignore[misc]
    assert gap == 30
    assert arrived == T0  # the gap keeps the time of the first audio it replaces
    rest = []
    while (entry := backlog.pop()) is not None:
        rest.append(entry[0][0])  # type: ignore[index]
    assert rest == [3, 4, 5]


def test_the_newest_block_is_never_dropped_even_when_larger_than_the_limit() -> None:
    backlog = Backlog(5)
    backlog.push(_block(1.0, 3), T0)
    dropped = backlog.push(_block(2.0, 50), T0)
    assert dropped == 1
    assert backlog.pop()[0] == 3  # type: ignore[index]
    item = backlog.pop()[0]  # type: ignore[index]
    assert isinstance(item, np.ndarray)
    assert item.size == 50


def test_samples_in_equal_samples_out() -> None:
    rng = np.random.default_rng(3)
    backlog = Backlog(200)
    pushed = 0
    out = 0
    for _ in range(500):
        size = int(rng.integers(1, 60))
        backlog.push(np.zeros(size), T0)
        pushed += size
        if rng.random() < 0.3:
            entry = backlog.pop()
            if entry is not None:
                item = entry[0]
                out += item if isinstance(item, int) else item.size
        assert backlog.held_samples <= 200 + 60
    while (entry := backlog.pop()) is not None:
        item = entry[0]
        out += item if isinstance(item, int) else item.size
    assert out == pushed


def test_a_backlog_must_hold_something() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        Backlog(0)


def test_pop_all_returns_blocks_and_gaps_in_order_and_empties_the_backlog() -> None:
    backlog = Backlog(35)
    for i in range(4):
        backlog.push(_block(i), T0 + timedelta(seconds=i))
    items = backlog.pop_all()
    assert isinstance(items[0][0], int)
    assert items[0][0] == 10  # block 0 dropped to make room: a gap of its size
    values = [item[0] for item, _ in items[1:]]  # type: ignore[index]
    assert values == [1, 2, 3]
    assert [arrived for _, arrived in items[1:]] == [T0 + timedelta(seconds=i) for i in (1, 2, 3)]
    assert len(backlog) == 0
    assert backlog.held_samples == 0
    assert backlog.pop() is None
