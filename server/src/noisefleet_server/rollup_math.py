"""Roll-up arithmetic (pure): combine sensor-minute (or hour) aggregates into longer buckets.

Energies and measured seconds add; LAeq = 10·lg(Σ energy / Σ measured seconds), never a mean of
dB; maxima take the maximum; LAF10/50/90 come from the summed L_AF histograms (exact to one bin);
coverage is the measured share of the bucket; energy shares are each label's energy over the
energy attributed to any label. Lden days reuse the core's ``den_levels``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from noisefleet_core.acoustics.combine import DenDay, DenPeriods, LevelInterval, den_levels
from noisefleet_server.ingest.minutes import HistogramSum


@dataclass(frozen=True)
class Part:
    """One stored minute or hour, as the roll-ups read it."""

    start: datetime
    energy: float
    measured_s: float
    lafmax_db: float | None
    lcpeak_db: float | None
    hist_width: float | None
    hist_first: int | None
    hist_counts: Sequence[int] | npt.NDArray[np.int64] | None
    shares: dict[str, float] = field(default_factory=dict)
    """Energy per label (minutes) or share per label (hours are not re-used for shares)."""


@dataclass(frozen=True)
class Aggregate:
    energy: float
    measured_s: float
    laeq_db: float | None
    lafmax_db: float | None
    lcpeak_db: float | None
    laf10_db: float | None
    laf50_db: float | None
    laf90_db: float | None
    coverage: float
    hist_width: float | None
    hist_first: int | None
    hist_counts: list[int] | None
    shares: dict[str, float]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def aggregate(parts: Iterable[Part], bucket_s: float) -> Aggregate:
    """The bucket's aggregate of its parts (see the module docstring)."""
    energy = measured = 0.0
    lafmax: float | None = None
    lcpeak: float | None = None
    histogram = HistogramSum()
    label_energy: dict[str, float] = {}
    for part in parts:
        energy += part.energy
        measured += part.measured_s
        if part.lafmax_db is not None:
            lafmax = part.lafmax_db if lafmax is None else max(lafmax, part.lafmax_db)
        if part.lcpeak_db is not None:
            lcpeak = part.lcpeak_db if lcpeak is None else max(lcpeak, part.lcpeak_db)
        if (
            part.hist_counts is not None
            and len(part.hist_counts)
            and part.hist_width is not None
            and part.hist_first is not None
        ):
            histogram.add(part.hist_width, part.hist_first, part.hist_counts)
        for label, value in part.shares.items():
            label_energy[label] = label_energy.get(label, 0.0) + value
    laeq = 10.0 * math.log10(energy / measured) if measured > 0 and energy > 0 else None
    p10, p50, p90 = histogram.percentiles()
    attributed = sum(label_energy.values())
    shares = {k: v / attributed for k, v in sorted(label_energy.items())} if attributed > 0 else {}
    has_hist = histogram.width is not None and histogram.counts.size > 0
    return Aggregate(
        energy=energy,
        measured_s=measured,
        laeq_db=_round(laeq),
        lafmax_db=lafmax,
        lcpeak_db=lcpeak,
        laf10_db=_round(p10),
        laf50_db=_round(p50),
        laf90_db=_round(p90),
        coverage=min(1.0, measured / bucket_s) if bucket_s > 0 else 0.0,
        hist_width=histogram.width if has_hist else None,
        hist_first=histogram.first if has_hist else None,
        hist_counts=[int(c) for c in histogram.counts] if has_hist else None,
        shares=shares,
    )


def lden_day(
    minutes: Iterable[tuple[datetime, float, float]], day: date, timezone: str
) -> DenDay | None:
    """Lday/Levening/Lnight/Lden of one local Lden day from (minute start, energy, measured s)
    rows: each minute is an interval of its measured length at its energy-mean level."""
    intervals = [
        LevelInterval(start, start + timedelta(seconds=measured), 10.0 * math.log10(e / measured))
        for start, e, measured in minutes
        if measured > 0 and e > 0
    ]
    for den in den_levels(intervals, DenPeriods(timezone=timezone)):
        if den.day == day:
            return den
    return None
