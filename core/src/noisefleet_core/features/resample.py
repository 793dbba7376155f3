"""Sample-rate conversion shared by training and the edge (one implementation, no skew)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt
from scipy import signal

FloatArray = npt.NDArray[np.float64]
MAX_DENOMINATOR = 1000


def resample(x: npt.ArrayLike, from_hz: int, to_hz: int) -> FloatArray:
    """Polyphase resampling of a 1-D signal (Kaiser window, scipy's default anti-aliasing)."""
    samples = np.asarray(x, dtype=np.float64)
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError("sample rates must be positive")
    if from_hz == to_hz:
        return samples
    ratio = Fraction(to_hz, from_hz).limit_denominator(MAX_DENOMINATOR)
    out = signal.resample_poly(samples, ratio.numerator, ratio.denominator)
    return np.asarray(out, dtype=np.float64)
