"""Puts one MCU's frames back in sample order and turns lost audio into NaN (pure, no clocks).

For each frame pushed:
1. a sequence that jumps far back or far forward is an MCU restart: what is held is released and
   a new stream starts at the frame, without hours of NaN;
2. a frame that ends before the next sample due is late (or a duplicate) and is dropped;
3. otherwise it is held by its first sample index;
4. held frames are released in order: at once when they continue the stream, and past a gap
   only when audio more than ``window_samples`` beyond the gap has arrived (the missing frame
   had its chance); the gap becomes NaN of its exact length.

``flush`` releases everything held (the shell calls it when the stream goes quiet).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_U32 = 2**32
_RECENT_FRAMES = 64


@dataclass
class ReorderCounters:
    """What the buffer did, since it was created."""

    reordered_frames: int = 0
    """Frames that arrived after a later frame and were put back in place."""
    dropped_frames: int = 0
    """Frames never received (from the frame counter where it is consistent)."""
    lost_samples: int = 0
    """Samples released as NaN."""
    duplicate_frames: int = 0
    """Frames received twice; the copy is dropped."""
    late_frames: int = 0
    """Frames arriving after their place was released as NaN; dropped."""
    restarts: int = 0
    """Times the sequence jumped so far that a new stream was started."""


@dataclass(frozen=True, slots=True)
class _Held:
    first_sample: int
    frame_counter: int
    samples: FloatArray


class ReorderBuffer:
    """Orders frames by first sample index; releases contiguous float64 pieces, NaN for gaps."""

    def __init__(
        self, window_samples: int, restart_back_samples: int, restart_forward_samples: int
    ) -> None:
        if window_samples < 0:
            raise ValueError(f"reorder window of {window_samples} samples is negative")
        if restart_back_samples <= 0 or restart_forward_samples <= window_samples:
            raise ValueError("restart limits must be positive and beyond the reorder window")
        self.window_samples = window_samples
        self.restart_back_samples = restart_back_samples
        self.restart_forward_samples = restart_forward_samples
        self.counters = ReorderCounters()
        self.last_restart: str | None = None
        """Why the most recent restart happened, one line."""
        self._next: int | None = None
        self._newest_end = 0
        self._held: dict[int, _Held] = {}
        self._last_counter: int | None = None
        self._last_length = 1
        self._recent: deque[int] = deque(maxlen=_RECENT_FRAMES)

    @property
    def next_sample(self) -> int | None:
        """The index of the next sample to release (None before the first frame)."""
        return self._next

    @property
    def held_frames(self) -> int:
        return len(self._held)

    def push(self, first_sample: int, frame_counter: int, samples: FloatArray) -> list[FloatArray]:
        """Take one frame; return the pieces now ready, in order (possibly none)."""
        released: list[FloatArray] = []
        if self._next is None:
            self._start(first_sample)
        elif self._is_restart(first_sample):
            released = self._release(force=True)
            self.counters.restarts += 1
            self._start(first_sample)
        assert self._next is not None
        end = first_sample + len(samples)
        if len(samples) == 0:
            return released
        if end <= self._next:
            if first_sample in self._recent:
                self.counters.duplicate_frames += 1
            else:
                self.counters.late_frames += 1
            return released
        if first_sample in self._held:
            self.counters.duplicate_frames += 1
            return released
        if first_sample < self._newest_end:
            self.counters.reordered_frames += 1
        self._held[first_sample] = _Held(first_sample, frame_counter, samples)
        self._newest_end = max(self._newest_end, end)
        released.extend(self._release(force=False))
        return released

    def flush(self) -> list[FloatArray]:
        """Release everything held, gaps between held frames as NaN."""
        return self._release(force=True)

    def _start(self, first_sample: int) -> None:
        self._next = first_sample
        self._newest_end = first_sample
        self._last_counter = None
        self._recent.clear()

    def _is_restart(self, first_sample: int) -> bool:
        assert self._next is not None
        if first_sample < self._next - self.restart_back_samples:
            self.last_restart = (
                f"sample index jumped back from {self._next} to {first_sample}: "
                "the MCU restarted its stream"
            )
            return True
        if first_sample - max(self._next, self._newest_end) > self.restart_forward_samples:
            self.last_restart = (
                f"sample index jumped forward from {self._next} to {first_sample}: "
                "a new stream was started instead of a gap"
            )
            return True
        return False

    def _release(self, force: bool) -> list[FloatArray]:
        released: list[FloatArray] = []
        while self._held and self._next is not None:
            first = min(self._held)
            held = self._held[first]
            samples = held.samples
            if first > self._next:
                if not force and self._newest_end - self._next <= self.window_samples:
                    break
                gap = first - self._next
                released.append(np.full(gap, np.nan))
                self.counters.lost_samples += gap
                self.counters.dropped_frames += self._missing_frames(held.frame_counter, gap)
                self._next = first
            del self._held[first]
            if first < self._next:
                # Overlaps audio already released (an MCU that changed its frame size).
                samples = samples[self._next - first :]
                if len(samples) == 0:
                    self.counters.duplicate_frames += 1
                    continue
            released.append(samples)
            self._next += len(samples)
            self._last_counter = held.frame_counter
            self._last_length = len(held.samples)
            self._recent.append(first)
        return released

    def _missing_frames(self, counter: int, gap: int) -> int:
        """How many frames the gap held: from the counters when they agree, else estimated."""
        if self._last_counter is not None:
            missing = (counter - self._last_counter - 1) % _U32
            if 0 < missing <= gap:
                return missing
        return max(1, round(gap / self._last_length))
