"""A live stream's time against the system clock: when to correct it, and how, without ever
making two records overlap.

A live source's stream time is its sample count; it should end where the system clock says a
block arrived. ``lag`` = arrival − stream end. Three things move it:

- a delay (the agent stalled, the network held datagrams): the audio was kept (in the socket,
  in the backlog) and arrives late in a burst; the lag grows for a moment and shrinks again as
  the burst catches up. Nothing is wrong: no correction;
- audio lost without the source counting it, a device clock slower than the system's: the lag
  stays. Correction: a gap of that length, measured as lost audio (NaN: ``invalid_samples`` and
  ``coverage`` show it); a lag beyond ``max_fill_s`` is a step of the system clock (NTP after
  boot): the stream restarts at the clock's time, forward, so nothing overlaps;
- a device clock faster than the system's, or the system clock stepped back: the stream is
  ahead (audio cannot arrive before it was recorded, so one block shows it). Correction: drop
  that much audio (counted), since going back would overlap records already made.

``StreamClock.observe`` tells the persistent lag from a delay by the smallest lag over a window
of arrivals spread over at least half of ``window_s``: a burst of blocks arriving at once never
spans that, and once the burst has caught up the smallest lag is small again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Correction:
    """What to do to a live stream before its next block (one of the three)."""

    gap_s: float = 0.0
    """Insert this much lost audio (NaN) before the block."""
    drop_s: float = 0.0
    """Drop this much audio, from the block on (the stream is ahead of the clock)."""
    restart: bool = False
    """Restart the stream time at the clock's (the clock stepped forward)."""


class StreamClock:
    """Watches a live stream's lag; ``observe`` once per block."""

    def __init__(
        self, max_offset_s: float = 1.0, window_s: float = 5.0, max_fill_s: float = 300.0
    ) -> None:
        self.max_offset_s = max_offset_s
        self.window_s = window_s
        self.max_fill_s = max_fill_s
        self._lags: deque[tuple[float, float]] = deque()

    def reset(self) -> None:
        """Forget what was seen (a new stream, or one just corrected)."""
        self._lags.clear()

    def observe(self, arrival_s: float, stream_end_s: float) -> Correction | None:
        """A block whose last sample is at ``stream_end_s`` (stream time) arrived at
        ``arrival_s`` (system clock, both in seconds): the correction it calls for, if any."""
        lag = arrival_s - stream_end_s
        if lag < -self.max_offset_s:
            self.reset()
            return Correction(drop_s=-lag)
        lags = self._lags
        lags.append((arrival_s, lag))
        while lags[0][0] < arrival_s - self.window_s:
            lags.popleft()
        if arrival_s - lags[0][0] < self.window_s / 2:
            return None  # arrivals too close together (a burst) to tell a delay from a loss
        smallest = min(value for _, value in lags)
        if smallest <= self.max_offset_s:
            return None
        self.reset()
        if smallest > self.max_fill_s:
            return Correction(restart=True)
        return Correction(gap_s=smallest)
