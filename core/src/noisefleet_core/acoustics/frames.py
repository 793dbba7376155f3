"""Short frame levels (LAeq and LAFmax every ``frame_s``) for event detection.

The event detector works on frames of e.g. 0.1 s: it needs each frame's A-weighted energy (to
gate the classifier, find loud unexplained sound and attribute energy to labels) and its
LAFmax. The meter computes p_A^2 and L_AF anyway, so the frames are summed from the same arrays
(``SoundLevelMeter(settings with frame_s)``, then ``pop_frames``) instead of a second meter.
Frames are counted in samples from the stream start, like intervals, so they never drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from noisefleet_core.acoustics.units import mean_square_level_db
from noisefleet_core.acoustics.weighting import FloatArray


@dataclass(frozen=True)
class FrameLevel:
    """Frame ``index`` covers samples [index * n, (index + 1) * n) of the stream."""

    index: int
    laeq_db: float
    lafmax_db: float
    samples: int


class FrameAccumulator:
    """Cuts the meter's p_A^2 and F-detector streams into frames, across any block sizes."""

    def __init__(self, frame_samples: int, db_offset: float) -> None:
        if frame_samples < 1:
            raise ValueError("a frame needs at least one sample")
        self.frame_samples = frame_samples
        self._db_offset = db_offset
        self._index = 0
        self._filled = 0
        self._energy = 0.0
        self._fast_max = 0.0

    def _level(self, mean_square: float) -> float:
        return mean_square_level_db(mean_square, self._db_offset)

    def _emit(self, samples: int) -> FrameLevel:
        frame = FrameLevel(
            self._index, self._level(self._energy / samples), self._level(self._fast_max), samples
        )
        self._index += 1
        self._filled = 0
        self._energy = 0.0
        self._fast_max = 0.0
        return frame

    def add(self, e_a: FloatArray, fast: FloatArray) -> list[FrameLevel]:
        """Add a block of p_A^2 and L_AF (as mean squares); return the frames it completed."""
        n = self.frame_samples
        out: list[FrameLevel] = []
        pos = 0
        if self._filled:
            take = min(n - self._filled, e_a.size)
            self._energy += float(np.sum(e_a[:take]))
            self._fast_max = max(self._fast_max, float(np.max(fast[:take])))
            self._filled += take
            pos = take
            if self._filled == n:
                out.append(self._emit(n))
        whole = (e_a.size - pos) // n
        if whole:
            stop = pos + whole * n
            energies = e_a[pos:stop].reshape(whole, n).sum(axis=1)
            maxima = fast[pos:stop].reshape(whole, n).max(axis=1)
            for energy, fast_max in zip(energies, maxima, strict=True):
                self._energy, self._fast_max = float(energy), float(fast_max)
                out.append(self._emit(n))
            pos = stop
        if pos < e_a.size:
            self._energy = float(np.sum(e_a[pos:]))
            self._fast_max = float(np.max(fast[pos:]))
            self._filled = e_a.size - pos
        return out

    def flush(self) -> FrameLevel | None:
        """The partial last frame, if any samples are left in it."""
        return self._emit(self._filled) if self._filled else None
