"""The small value objects rules are made of: tiers, local time windows, penalties.

Times of day are local to the site; ``timewindows`` turns them into UTC instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Days of the week as rules write them, Monday first (index 0)."""
ALL_DAYS: frozenset[int] = frozenset(range(7))
MINUTES_PER_DAY = 1440


@dataclass(frozen=True, slots=True)
class Tier:
    """One level of a rule's condition: the value must exceed ``limit``."""

    name: str
    limit: float
    """dB for level rules, a count of events for event_count rules."""


CONDITION_TIERS = (Tier("limit", 0.5),)
"""The one tier of rules whose value is a condition (1.0 true, 0.0 false): health and event."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A window of the local day on some days of the week.

    ``end_min <= start_min`` crosses midnight (22:00-07:00); such a window belongs to the day it
    starts on (``days={4}`` with 22:00-07:00 is Friday night into Saturday). ``end_min`` may be
    1440 (24:00). Equal start and end is a whole day from that time.
    """

    days: frozenset[int] = ALL_DAYS
    """Days of the week on which the window starts, 0 = Monday … 6 = Sunday."""
    start_min: int = 0
    """Start, minutes after local midnight (0 … 1439)."""
    end_min: int = MINUTES_PER_DAY
    """End, minutes after local midnight (0 … 1440)."""

    @property
    def crosses_midnight(self) -> bool:
        """Whether the window ends on the day after it starts."""
        return self.end_min <= self.start_min

    @property
    def nominal_s(self) -> float:
        """Length in local clock time (real time differs by up to an hour on DST days)."""
        minutes = self.end_min - self.start_min
        if self.crosses_midnight:
            minutes += MINUTES_PER_DAY
        return float(minutes * 60)

    def to_dict(self) -> dict[str, Any]:
        """The normalised plain form (``days``, ``from``, ``to``)."""
        return {
            "days": [DAY_NAMES[d] for d in sorted(self.days)],
            "from": format_minutes(self.start_min),
            "to": format_minutes(self.end_min),
        }


@dataclass(frozen=True, slots=True)
class Penalty:
    """A level added to the energy of the intervals inside a window (TA Lärm +6 dB periods)."""

    window: TimeWindow
    add_db: float


def penalty_dict(penalty: Penalty) -> dict[str, Any]:
    """The normalised plain form of a penalty (its window's keys and ``add_db``)."""
    return {**penalty.window.to_dict(), "add_db": penalty.add_db}


def format_minutes(minutes: int) -> str:
    """Minutes after midnight as "HH:MM" (1440 is "24:00")."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
