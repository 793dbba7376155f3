"""Median filtering of per-class frame scores, streaming and whole-sequence, with equal output.

The filter is centred: frame i's output is the per-class median of frames i - h .. i + h with
h = (width - 1) / 2. At the edges of the stream the window is truncated to the frames that
exist (no padding), so a one-frame spike at the very start is removed like any other. With an
even number of frames in a truncated window the median is the mean of the two middle values.

Streaming: ``StreamingMedianFilter.push`` returns frame i's output when frame i + h arrives
(a lag of h frames); ``flush`` returns the last h outputs with truncated windows. The
concatenated outputs equal ``median_filter`` over the whole sequence.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def median_filter(values: npt.ArrayLike, width: int) -> FloatArray:
    """Centred median over frames (axis 0) with truncated windows at both ends."""
    array = np.asarray(values, dtype=np.float64)
    if width < 1 or width % 2 == 0:
        raise ValueError(f"the median filter width must be odd and >= 1, got {width}")
    half = (width - 1) // 2
    out = np.empty_like(array)
    for i in range(array.shape[0]):
        out[i] = np.median(array[max(0, i - half) : i + half + 1], axis=0)
    return out


class StreamingMedianFilter:
    """``median_filter`` one frame at a time, with a lag of (width - 1) / 2 frames."""

    def __init__(self, width: int) -> None:
        if width < 1 or width % 2 == 0:
            raise ValueError(f"the median filter width must be odd and >= 1, got {width}")
        self._half = (width - 1) // 2
        self._window: deque[FloatArray] = deque(maxlen=width)
        self._pushed = 0
        self._emitted = 0

    @property
    def delay_frames(self) -> int:
        """Frames between a frame's arrival and its output."""
        return self._half

    def push(self, values: FloatArray) -> list[FloatArray]:
        """Add the next frame; returns the output of frame (pushed - 1 - delay), if any."""
        self._window.append(np.asarray(values, dtype=np.float64))
        self._pushed += 1
        if self._pushed - 1 - self._half < 0:
            return []
        # The window now spans frames (centre - half) .. (centre + half), truncated at 0.
        self._emitted += 1
        stacked = np.stack(self._window)
        if len(self._window) == self._window.maxlen:
            # A full window holds an odd number of frames: its median is the middle of the
            # sorted values, exactly what np.median picks, at a third of its cost.
            return [np.sort(stacked, axis=0)[self._half]]
        return [np.median(stacked, axis=0)]

    def flush(self) -> list[FloatArray]:
        """Outputs of the frames still waiting for lookahead, with truncated windows."""
        outputs: list[FloatArray] = []
        first_held = self._pushed - len(self._window)
        items = list(self._window)
        for centre in range(self._emitted, self._pushed):
            start = max(centre - self._half, first_held) - first_held
            outputs.append(np.median(np.stack(items[start:]), axis=0))
        self._emitted = self._pushed
        return outputs


class RunningMedian:
    """The median of the last ``size`` values pushed, kept sorted as they come and go.

    Equal to ``np.median`` of those values (the middle one, or the mean of the two middle
    ones), at O(size) memmove per push instead of a copy and a partition per query: the
    detector asks for its background level at every frame.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"the running median needs a size >= 1, got {size}")
        self._values: deque[float] = deque()
        self._sorted: list[float] = []
        self._size = size

    def __len__(self) -> int:
        return len(self._values)

    def push(self, value: float) -> None:
        if len(self._values) == self._size:
            oldest = self._values.popleft()
            del self._sorted[bisect_left(self._sorted, oldest)]
        self._values.append(value)
        insort(self._sorted, value)

    def median(self) -> float:
        """The median of the values held (``ValueError`` when there are none)."""
        n = len(self._sorted)
        if n == 0:
            raise ValueError("no values to take the median of")
        middle = n // 2
        if n % 2:
            return float(self._sorted[middle])
        return float((self._sorted[middle - 1] + self._sorted[middle]) / 2)
