"""Limits and verdicts: which limit applies when, whether a day complies, whether a sensor is
online. Pure functions over values read by ``queries``.

- A site's limits are per period (``{"day": 55, "evening": 50, "night": 45}`` in dB(A)); the
  periods are the core's ``DenPeriods`` (day 07–19, evening 19–23, night 23–07 local time).
- A day complies when each period level with a limit is at or below it; a day measured less
  than ``min_coverage`` of the time gets no verdict ("incomplete"), as a report would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from noisefleet_core.acoustics.combine import DenPeriods

Period = Literal["day", "evening", "night"]
PERIODS: tuple[Period, ...] = ("day", "evening", "night")
Verdict = Literal["complies", "exceeded", "incomplete", "no limits"]
SensorState = Literal["online", "offline", "never seen"]

MARKS: dict[Verdict, str] = {
    "complies": "✅ complies",
    "exceeded": "❌ exceeded",
    "incomplete": "⚠️ incomplete",
    "no limits": "–",
}


DEFAULT_PERIODS = DenPeriods()


def period_at(local: datetime, periods: DenPeriods = DEFAULT_PERIODS) -> Period:
    """The period of a local time (night may wrap past midnight)."""
    hour = local.hour
    d, e, n = periods.day_start_hour, periods.evening_start_hour, periods.night_start_hour
    if d <= hour < e:
        return "day"
    if (e <= hour < n) if n > e else (hour >= e or hour < n):
        return "evening"
    return "night"


def limit_at(moment: datetime, limits: Mapping[str, float], timezone: str) -> float | None:
    """The limit in force at an aware instant at a site (None when that period has none)."""
    local = moment.astimezone(ZoneInfo(timezone))
    value = limits.get(period_at(local, DenPeriods(timezone=timezone)))
    return None if value is None else float(value)


@dataclass(frozen=True)
class DayVerdict:
    verdict: Verdict
    exceeded: tuple[Period, ...]
    """The periods above their limit."""


def day_verdict(
    levels: Mapping[Period, float | None],
    limits: Mapping[str, float],
    coverage: float,
    min_coverage: float = 0.8,
) -> DayVerdict:
    """Compliance of one Lden day: each period level against its limit (strictly above fails)."""
    checked = [p for p in PERIODS if p in limits]
    if not checked:
        return DayVerdict("no limits", ())
    exceeded = tuple(
        p for p in checked if (value := levels.get(p)) is not None and value > float(limits[p])
    )
    if exceeded:
        return DayVerdict("exceeded", exceeded)  # an exceedance measured is one, covered or not
    if coverage < min_coverage or any(levels.get(p) is None for p in checked):
        return DayVerdict("incomplete", ())
    return DayVerdict("complies", ())


def sensor_state(
    status: str | None, last_seen: datetime | None, now: datetime, offline_after_s: float
) -> SensorState:
    """Online when the last status said so and the sensor was heard from recently."""
    if last_seen is None:
        return "never seen"
    if status == "offline" or now - last_seen > timedelta(seconds=offline_after_s):
        return "offline"
    return "online"
