"""Audio waiting for a sensor's pipeline, bounded: when measuring falls too far behind, the
oldest audio is dropped and remembered only as a gap (a count of samples), so memory stays
bounded while the stream's time stays aligned (the gap is measured as invalid samples)."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from noisefleet_edge.sources.base import FloatArray

Item = FloatArray | int
"""A block of samples, or a gap: the number of samples dropped there."""


class Backlog:
    """Blocks in arrival order, at most ``max_samples`` of audio held; gaps only at the head."""

    def __init__(self, max_samples: int) -> None:
        if max_samples < 1:
            raise ValueError("a backlog must hold at least one sample")
        self.max_samples = max_samples
        self._items: deque[tuple[Item, datetime]] = deque()
        self.held_samples = 0
        self.dropped_blocks = 0
        self.dropped_samples = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, block: FloatArray, arrived: datetime) -> int:
        """Queue a block; return how many blocks had to be dropped to make room."""
        self._items.append((block, arrived))
        self.held_samples += block.size
        dropped = 0
        while self.held_samples > self.max_samples:
            first_block = 1 if isinstance(self._items[0][0], int) else 0
            if first_block >= len(self._items) - 1:
                break  # never drop the newest block
            block_dropped, arrived_dropped = self._items[first_block]
            assert not isinstance(block_dropped, int)
            self.held_samples -= block_dropped.size
            self.dropped_blocks += 1
            self.dropped_samples += block_dropped.size
            dropped += 1
            if first_block == 1:
                gap, gap_arrived = self._items.popleft()
                self._items.popleft()
                self._items.appendleft((int(gap) + block_dropped.size, gap_arrived))
            else:
                self._items.popleft()
                self._items.appendleft((block_dropped.size, arrived_dropped))
        return dropped

    def pop(self) -> tuple[Item, datetime] | None:
        """The oldest block or gap, or None when empty."""
        if not self._items:
            return None
        item, arrived = self._items.popleft()
        if not isinstance(item, int):
            self.held_samples -= item.size
        return item, arrived

    def pop_all(self) -> list[tuple[Item, datetime]]:
        """Every block and gap held, oldest first; the backlog is empty afterwards."""
        items = list(self._items)
        self._items.clear()
        self.held_samples = 0
        return items
