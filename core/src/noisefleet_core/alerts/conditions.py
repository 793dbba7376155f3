"""A rule's samples and their condition codes: which tier each sample is on and held at.

For each sample (spec section 3): ``on_tier`` is the highest tier whose limit the value exceeds,
``hold_tier`` the highest tier whose limit minus the hysteresis it exceeds (so hold >= on), both
-1 for none or a NaN value. Runs of equal codes are the segments the lifecycle loops over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from noisefleet_core.alerts.errors import AlertError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Samples:
    """A rule's samples on its grid: the value and the condition codes of each sample time."""

    times: FloatArray
    """Sample times (epoch s, ascending); sample t describes the window ending at t."""
    values: FloatArray
    """The rule's value (dB, count, 1/0, seconds to the limit); NaN = no value."""
    on_tier: IntArray
    """Highest tier whose limit the value exceeds, -1 if none."""
    hold_tier: IntArray
    """Highest tier still held with hysteresis (>= on_tier), -1 if none."""
    peak: FloatArray
    """What an alert's peak tracks (the maximum is kept): usually the value; the event's LAFmax
    for event rules, the current level (dB) for budget rules. NaN = nothing to report."""

    def __post_init__(self) -> None:
        n = self.times.shape
        if not (self.values.shape == self.on_tier.shape == self.hold_tier.shape == n):
            raise AlertError("samples: times, values and tiers must have one entry per sample")
        if self.peak.shape != n:
            raise AlertError("samples: peak must have one entry per sample")

    def __len__(self) -> int:
        return int(self.times.size)

    @classmethod
    def empty(cls) -> Samples:
        nothing = np.zeros(0, dtype=np.float64)
        codes = np.zeros(0, dtype=np.int64)
        return cls(nothing, nothing, codes, codes, nothing)

    @classmethod
    def from_values(
        cls,
        times: FloatArray,
        values: FloatArray,
        limits: Sequence[float],
        hysteresis: float = 0.0,
        peak: FloatArray | None = None,
    ) -> Samples:
        """Samples whose codes follow from ascending tier limits (see ``conditions``)."""
        on_tier, hold_tier = conditions(values, limits, hysteresis)
        return cls(times, values, on_tier, hold_tier, values if peak is None else peak)


def conditions(
    values: FloatArray, limits: Sequence[float], hysteresis: float = 0.0
) -> tuple[IntArray, IntArray]:
    """(on_tier, hold_tier) per value: the highest tier with value > limit (resp. > limit -
    hysteresis), -1 for none or a NaN value. ``limits`` ascend (one per tier)."""
    bounds = np.asarray(limits, dtype=np.float64)
    # searchsorted(side="left") counts the limits strictly below each value.
    on_tier = np.searchsorted(bounds, values, side="left").astype(np.int64) - 1
    hold_tier = np.searchsorted(bounds - hysteresis, values, side="left").astype(np.int64) - 1
    missing = np.isnan(values)
    on_tier[missing] = -1
    hold_tier[missing] = -1
    return on_tier, hold_tier


def segments(on_tier: IntArray, hold_tier: IntArray) -> IntArray:
    """Start indices of the runs of equal (on_tier, hold_tier); the first is 0 (if any)."""
    if on_tier.size == 0:
        return np.zeros(0, dtype=np.int64)
    changes = np.flatnonzero((np.diff(on_tier) != 0) | (np.diff(hold_tier) != 0)) + 1
    return np.concatenate(([0], changes)).astype(np.int64)
