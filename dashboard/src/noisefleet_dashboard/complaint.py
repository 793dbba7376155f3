"""The complaint check: was it too loud around a given local time at a site? Pure.

1. ``complaint_moment``: the complaint's local date and time at the site → an aware instant
   (a time in the spring-forward gap moves forward by the gap; an ambiguous autumn time is
   the first of the two, as a resident's clock showed it before the change).
2. ``complaint_window``: ± N minutes around it, in real (UTC) time, so a window across a
   clock change is still exactly 2·N minutes long.
3. ``window_levels``: the energy mean LAeq of the buckets in the window, each weighted by its
   measured seconds (coverage × bucket length): 10·lg(Σ tᵢ·10^(Lᵢ/10) / Σ tᵢ); LAFmax is the
   maximum, never an average; coverage is the measured share of the window.
4. ``check``: the limit of the period the complaint time falls in (the site's day / evening /
   night limits, ``compliance.period_at``) against the LAeq, with a verdict text.

Verdicts: the LAeq, rounded to 0.1 dB as shown, strictly above the limit is *exceeded*; at or
below it *complies*. Below ``min_coverage`` the check says *not enough data* — unless even
silence in the unmeasured part could not bring the window's LAeq down to the limit
(10·lg(coverage) + LAeq > limit), which is an exceedance whatever the gaps held.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from noisefleet_core.acoustics.combine import DenPeriods, combine_levels
from noisefleet_dashboard.compliance import Period, period_at

WINDOWS: dict[str, int] = {"± 15 min": 15, "± 30 min": 30, "± 60 min": 60}
"""The window choices: half-widths in minutes."""

MIN_COVERAGE = 0.8
"""Below this measured share of the window a check gives no verdict (as the Lden days)."""

Outcome = Literal["exceeded", "complies", "not enough data", "no limit"]


class LevelBucket(Protocol):
    """One level bucket as read from a view (``queries.LevelPoint`` is one)."""

    @property
    def start(self) -> datetime: ...
    @property
    def laeq_db(self) -> float | None: ...
    @property
    def lafmax_db(self) -> float | None: ...
    @property
    def coverage(self) -> float: ...


def complaint_moment(day: date, at: time, timezone: str) -> datetime:
    """The aware instant of a local date and time at a site (see the module's step 1)."""
    zone = ZoneInfo(timezone)
    wall = datetime.combine(day, at.replace(tzinfo=None, fold=0)).replace(tzinfo=zone)
    return wall.astimezone(UTC).astimezone(zone)  # normalises a time in the gap


def complaint_window(moment: datetime, half_minutes: int) -> tuple[datetime, datetime]:
    """[start, end) in UTC: ``half_minutes`` of real time either side of ``moment``."""
    centre = moment.astimezone(UTC)
    half = timedelta(minutes=half_minutes)
    return centre - half, centre + half


@dataclass(frozen=True)
class WindowLevels:
    laeq_db: float | None
    """Energy mean of the measured part; None when nothing was measured."""
    lafmax_db: float | None
    measured_s: float
    window_s: float

    @property
    def coverage(self) -> float:
        return 0.0 if self.window_s <= 0 else min(1.0, self.measured_s / self.window_s)


def window_levels(
    buckets: Sequence[LevelBucket], bucket_s: float, start: datetime, end: datetime
) -> WindowLevels:
    """LAeq (energy mean weighted by measured seconds), LAFmax and coverage of the buckets
    starting in [start, end)."""
    inside = [b for b in buckets if start <= b.start < end]
    durations = [b.coverage * bucket_s if b.laeq_db is not None else 0.0 for b in inside]
    combined = combine_levels([b.laeq_db for b in inside], durations)
    maxima = [b.lafmax_db for b in inside if b.lafmax_db is not None]
    return WindowLevels(
        laeq_db=combined.leq_db,
        lafmax_db=max(maxima) if maxima else None,
        measured_s=combined.covered_s,
        window_s=(end - start).total_seconds(),
    )


@dataclass(frozen=True)
class ComplaintCheck:
    site: str
    timezone: str
    moment: datetime
    start: datetime
    end: datetime
    period: Period
    """The period the complaint time falls in; its limit applies."""
    periods_touched: tuple[Period, ...]
    """Every period the window overlaps (a note when it is more than one)."""
    limit_db: float | None
    levels: WindowLevels
    outcome: Outcome
    text: str
    """One line, e.g. "LAeq over 23:10–00:10 = 52.3 dB(A) > night limit 45 dB(A): exceeded"."""


def span_text(start: datetime, end: datetime, timezone: str) -> str:
    """ "23:10–00:10" in the site's local time."""
    zone = ZoneInfo(timezone)
    return f"{start.astimezone(zone):%H:%M}–{end.astimezone(zone):%H:%M}"


def periods_between(
    start: datetime, end: datetime, periods: DenPeriods, step: timedelta = timedelta(minutes=1)
) -> tuple[Period, ...]:
    """The periods overlapped by [start, end), in the order they occur (minute resolution:
    period boundaries fall on whole hours)."""
    zone = ZoneInfo(periods.timezone)
    seen: list[Period] = []
    t = start
    while t < end:
        period = period_at(t.astimezone(zone), periods)
        if period not in seen:
            seen.append(period)
        t += step
    return tuple(seen)


def verdict(
    levels: WindowLevels,
    limit_db: float | None,
    period: Period,
    span: str,
    min_coverage: float = MIN_COVERAGE,
) -> tuple[Outcome, str]:
    """The outcome and its one-line text (rules in the module docstring)."""
    if levels.laeq_db is None:
        return "not enough data", f"No levels measured over {span}: not enough data"
    shown = round(levels.laeq_db, 1)
    head = f"LAeq over {span} = {shown:.1f} dB(A)"
    if limit_db is None:
        return "no limit", f"{head}; the site has no {period} limit: no verdict"
    limit = f"{period} limit {limit_db:g} dB(A)"
    covered = levels.coverage
    at_least = levels.laeq_db + 10 * math.log10(covered) if covered > 0 else -math.inf
    if shown > limit_db and (covered >= min_coverage or round(at_least, 1) > limit_db):
        return "exceeded", f"{head} > {limit}: exceeded"
    if covered < min_coverage:
        return "not enough data", (
            f"{head} from {100 * covered:.0f} % of the window: not enough data"
            f" (at least {100 * min_coverage:.0f} % needed for a verdict against the {limit})"
        )
    return "complies", f"{head} ≤ {limit}: complies"


def check(
    site: str,
    timezone: str,
    limits: Mapping[str, float],
    moment: datetime,
    half_minutes: int,
    buckets: Sequence[LevelBucket],
    bucket_s: float,
    min_coverage: float = MIN_COVERAGE,
) -> ComplaintCheck:
    """The whole check of a complaint at ``moment`` from the buckets read for its window."""
    periods = DenPeriods(timezone=timezone)
    start, end = complaint_window(moment, half_minutes)
    period = period_at(moment.astimezone(ZoneInfo(timezone)), periods)
    value = limits.get(period)
    limit_db = None if value is None else float(value)
    levels = window_levels(buckets, bucket_s, start, end)
    outcome, text = verdict(levels, limit_db, period, span_text(start, end, timezone), min_coverage)
    return ComplaintCheck(
        site=site,
        timezone=timezone,
        moment=moment,
        start=start,
        end=end,
        period=period,
        periods_touched=periods_between(start, end, periods),
        limit_db=limit_db,
        levels=levels,
        outcome=outcome,
        text=text,
    )


def period_note(result: ComplaintCheck) -> str | None:
    """A note when the window straddles a period boundary (the complaint time's limit applies)."""
    if len(result.periods_touched) <= 1:
        return None
    return (
        f"The window spans {' and '.join(result.periods_touched)}: the {result.period} limit of"
        " the complaint time applies."
    )
