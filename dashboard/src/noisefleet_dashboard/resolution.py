"""Which roll-up a chart reads: the finest that keeps a series under ``max_points`` points.

The levels exist at four resolutions, each energy-correct and with exact LAF10/LAF90 from the
merged histograms: 1-s records (``noisefleet.levels_between``), minutes (``levels_1m``),
hours (``levels_1h``) and local days (``levels_1d``). Re-bucketing a roll-up (e.g. 5-minute
buckets from minutes) would keep LAeq exact but not the percentiles, so a chart uses one of
these four as it is: for 2000 points that is 1 s up to 33 min, 1 min up to 33 h, 1 h up to
83 days, then days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from noisefleet_dashboard.errors import QueryError

View = Literal["levels", "levels_1m", "levels_1h", "levels_1d"]


@dataclass(frozen=True)
class Resolution:
    view: View
    """The public view (``levels`` is read through ``levels_between``)."""
    bucket_s: int
    label: str


RESOLUTIONS: tuple[Resolution, ...] = (
    Resolution("levels", 1, "1 s"),
    Resolution("levels_1m", 60, "1 min"),
    Resolution("levels_1h", 3600, "1 h"),
    Resolution("levels_1d", 86400, "1 day"),
)


def points(span: timedelta, resolution: Resolution) -> int:
    """How many buckets of ``resolution`` a span holds (a started bucket counts)."""
    seconds = span.total_seconds()
    return max(1, -int(-seconds // resolution.bucket_s))


def choose_resolution(span: timedelta, max_points: int = 2000) -> Resolution:
    """The finest resolution with at most ``max_points`` buckets in ``span`` (days beyond)."""
    if span <= timedelta(0):
        raise QueryError(f"the span must be positive, got {span}")
    for resolution in RESOLUTIONS:
        if points(span, resolution) <= max_points:
            return resolution
    return RESOLUTIONS[-1]


SPANS: dict[str, timedelta] = {
    "30 minutes": timedelta(minutes=30),
    "6 hours": timedelta(hours=6),
    "24 hours": timedelta(hours=24),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
    "365 days": timedelta(days=365),
}
"""The Site page's zoom choices (each lands on a different resolution at 2000 points)."""


def window(until: date, span: timedelta, timezone: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a chart: ``span`` back from the end of local day ``until`` (or from now
    when that day has not ended)."""
    zone = ZoneInfo(timezone)
    day_end = datetime.combine(until + timedelta(days=1), time(0), zone)
    end = min(now, day_end)
    return end - span, end
