"""Energy-correct combination of levels: Leq over intervals, Lday/Levening/Lnight and Lden.

Levels are combined by averaging energy over the time actually covered, never by averaging dB:
[70, 60, 50] dB over [1, 2, 3] h is 63.12 dB, not 60. Every result says how much time it covers.

Day/evening/night (EU Directive 2002/49/EC, Annex I): periods start at configurable local hours
(07, 19, 23 by default) in a configurable time zone. An Lden day runs from the day period's start
to the next day's (07:00 to 07:00), so a night belongs to the evening before it. On daylight
saving days the night lasts 7 or 9 hours; Lden then weights each period by its real length.

Steps of ``den_levels``: cut every interval at the period boundaries of the local days it
touches, add each piece's energy (level x seconds) to its period, then turn each period's energy
into a level over its covered seconds and combine the three periods with their penalties.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class CombineError(ValueError):
    """Levels or periods cannot be combined as asked; the message says why."""


@dataclass(frozen=True)
class CombinedLevel:
    """An equivalent level over the covered part of a period."""

    leq_db: float | None
    """None when nothing of the period is covered."""
    covered_s: float
    period_s: float | None = None

    @property
    def coverage(self) -> float | None:
        """Covered fraction of the period, when the period's length is known."""
        if self.period_s is None or self.period_s <= 0:
            return None
        return self.covered_s / self.period_s


def energy(level_db: float) -> float:
    """Relative energy of a level: 10^(L/10)."""
    return float(10.0 ** (level_db / 10.0))


def level(energy_value: float) -> float:
    """Level of a relative energy: 10*lg(E)."""
    return 10.0 * math.log10(energy_value)


def combine_levels(
    levels_db: Sequence[float | None],
    durations_s: Sequence[float],
    period_s: float | None = None,
) -> CombinedLevel:
    """Leq of intervals with the given levels and durations (None or non-finite: skipped)."""
    if len(levels_db) != len(durations_s):
        raise CombineError("need one duration per level")
    total_energy = 0.0
    covered = 0.0
    for value, duration in zip(levels_db, durations_s, strict=True):
        if duration < 0:
            raise CombineError("durations must not be negative")
        if value is None or not math.isfinite(value) or duration == 0:
            continue
        total_energy += duration * energy(value)
        covered += duration
    if period_s is not None and covered > period_s * (1 + 1e-9):
        raise CombineError(
            f"the intervals cover {covered:.3f} s, more than the {period_s:.3f} s period"
        )
    if covered == 0:
        return CombinedLevel(None, 0.0, period_s)
    return CombinedLevel(level(total_energy / covered), covered, period_s)


@dataclass(frozen=True)
class DenPeriods:
    """When day, evening and night start (local hours) and the penalties of Lden."""

    day_start_hour: int = 7
    evening_start_hour: int = 19
    night_start_hour: int = 23
    evening_penalty_db: float = 5.0
    night_penalty_db: float = 10.0
    timezone: str = "UTC"
    """IANA time zone name of the site, e.g. "Europe/Berlin"."""

    def __post_init__(self) -> None:
        d, e, n = self.day_start_hour, self.evening_start_hour, self.night_start_hour
        if not (0 <= d < e < n <= 24 or (0 <= d < e < 24 and 0 <= n < d)):
            raise CombineError(
                "period hours must follow day < evening < night within one day "
                f"(night may wrap past midnight); got day={d}, evening={e}, night={n}"
            )
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError) as error:
            raise CombineError(f"unknown time zone {self.timezone!r}") from error


def lden_from_periods(
    lday_db: float,
    levening_db: float,
    lnight_db: float,
    hours: tuple[float, float, float] = (12.0, 4.0, 8.0),
    evening_penalty_db: float = 5.0,
    night_penalty_db: float = 10.0,
) -> float:
    """Lden from the three period levels, weighting each by its length in hours."""
    t_day, t_evening, t_night = hours
    total = (
        t_day * energy(lday_db)
        + t_evening * energy(levening_db + evening_penalty_db)
        + t_night * energy(lnight_db + night_penalty_db)
    )
    return level(total / (t_day + t_evening + t_night))


@dataclass(frozen=True)
class DenDay:
    """Lday, Levening, Lnight and Lden of one Lden day (day start to the next day start)."""

    day: date
    lday: CombinedLevel
    levening: CombinedLevel
    lnight: CombinedLevel
    lden_db: float | None
    """None unless all three periods have some coverage."""


@dataclass(frozen=True)
class LevelInterval:
    """A measured interval: aware start and end, and its equivalent level."""

    start: datetime
    end: datetime
    leq_db: float


def _period_bounds(day: date, periods: DenPeriods) -> list[tuple[str, datetime, datetime]]:
    zone = ZoneInfo(periods.timezone)

    def at(d: date, hour: int) -> datetime:
        extra, hour = divmod(hour, 24)
        # fold=0 and normalisation through UTC give the real instant even on DST days.
        local = datetime.combine(d + timedelta(days=extra), time(hour), tzinfo=zone)
        return local.astimezone(ZoneInfo("UTC"))

    night_hour = periods.night_start_hour
    if night_hour < periods.evening_start_hour:
        night_hour += 24  # the night starts after midnight
    day_start = at(day, periods.day_start_hour)
    evening_start = at(day, periods.evening_start_hour)
    night_start = at(day, night_hour)
    next_day_start = at(day + timedelta(days=1), periods.day_start_hour)
    return [
        ("day", day_start, evening_start),
        ("evening", evening_start, night_start),
        ("night", night_start, next_day_start),
    ]


def _den_day_of(instant: datetime, periods: DenPeriods) -> date:
    local = instant.astimezone(ZoneInfo(periods.timezone))
    day = local.date()
    if local < _period_bounds(day, periods)[0][1]:
        day -= timedelta(days=1)
    return day


def den_levels(intervals: Iterable[LevelInterval], periods: DenPeriods) -> list[DenDay]:
    """Lday/Levening/Lnight/Lden per Lden day touched by the intervals, oldest first."""
    sums: dict[date, dict[str, list[float]]] = {}
    for interval in intervals:
        if interval.start.tzinfo is None or interval.end.tzinfo is None:
            raise CombineError("interval times must be timezone-aware")
        # Compare and subtract in UTC: Python ignores UTC offsets (and fold) between two
        # datetimes that share a tzinfo, which gives wall-clock, not elapsed, time on DST days.
        start = interval.start.astimezone(ZoneInfo("UTC"))
        end = interval.end.astimezone(ZoneInfo("UTC"))
        if end <= start or not math.isfinite(interval.leq_db):
            continue
        day = _den_day_of(start, periods)
        while True:
            bounds = _period_bounds(day, periods)
            for name, lo, hi in bounds:
                overlap = (min(hi, end) - max(lo, start)).total_seconds()
                if overlap > 0:
                    slot = sums.setdefault(day, {}).setdefault(name, [0.0, 0.0])
                    slot[0] += overlap * energy(interval.leq_db)
                    slot[1] += overlap
            if end <= bounds[-1][2]:
                break
            day += timedelta(days=1)

    result = []
    for day in sorted(sums):
        bounds = _period_bounds(day, periods)
        combined: dict[str, CombinedLevel] = {}
        for name, lo, hi in bounds:
            period_s = (hi - lo).total_seconds()
            e_sum, covered = sums[day].get(name, [0.0, 0.0])
            leq = level(e_sum / covered) if covered > 0 else None
            combined[name] = CombinedLevel(leq, covered, period_s)
        parts = [combined["day"], combined["evening"], combined["night"]]
        lden = None
        ld, le, ln = (p.leq_db for p in parts)
        if ld is not None and le is not None and ln is not None:
            hours = tuple((p.period_s or 0.0) / 3600.0 for p in parts)
            lden = lden_from_periods(
                ld,
                le,
                ln,
                hours=(hours[0], hours[1], hours[2]),
                evening_penalty_db=periods.evening_penalty_db,
                night_penalty_db=periods.night_penalty_db,
            )
        result.append(DenDay(day, combined["day"], combined["evening"], combined["night"], lden))
    return result


def den_day_of(instant: datetime, periods: DenPeriods) -> date:
    """The Lden day an instant belongs to (a night belongs to the evening before it)."""
    return _den_day_of(instant, periods)


def den_day_bounds(day: date, periods: DenPeriods) -> tuple[datetime, datetime]:
    """Start and end (UTC) of one Lden day: the day period's start to the next one's."""
    bounds = _period_bounds(day, periods)
    return bounds[0][1], bounds[-1][2]
