"""Per-sensor sequence bookkeeping: the highest data sequence seen and the holes below it (pure).

Each sensor numbers its data messages (levels, events, heartbeats) +1 each and never reuses a
number; status messages carry the current number without taking one, so they are left out. A
jump ahead opens a gap; a replayed message inside a gap fills it (splitting it when it lands in
the middle). The first number ever seen opens no gap: the server may start after the sensor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SequenceState:
    max_sequence: int | None
    gaps: tuple[tuple[int, int], ...] = ()
    """Missing ranges (first, last), inclusive, sorted."""


def _fill(gaps: list[tuple[int, int]], sequence: int) -> None:
    for index, (first, last) in enumerate(gaps):
        if first <= sequence <= last:
            replacement = []
            if first < sequence:
                replacement.append((first, sequence - 1))
            if sequence < last:
                replacement.append((sequence + 1, last))
            gaps[index : index + 1] = replacement
            return


def advance(state: SequenceState, sequences: Iterable[int]) -> SequenceState:
    """The state after ``sequences`` arrived (in any order, duplicates allowed)."""
    highest = state.max_sequence
    gaps = list(state.gaps)
    for sequence in sorted(set(sequences)):
        if highest is None:
            highest = sequence
        elif sequence > highest:
            if sequence > highest + 1:
                gaps.append((highest + 1, sequence - 1))
            highest = sequence
        else:
            _fill(gaps, sequence)
    return SequenceState(highest, tuple(sorted(gaps)))
