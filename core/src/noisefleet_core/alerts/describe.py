"""One-line human messages for alert transitions, in the site's local time.

``describe`` takes plain values (what a transition carries), not the lifecycle's types, so the
server can call it for any stored alert. Examples:

- ``tower-a/roof: LAeq,15min 71.3 dB(A) above the limit 70 dB (active 22:00–07:00) since 23:41``
- ``tower-a/roof: LAeq,15min above the limit 70 dB (active 22:00–07:00) since 23:41, resolved at
  00:12 (peak 74.0 dB at 23:55)``
- ``tower-a/roof: at the current level (68.2 dB) the 1-h LAeq limit 65 dB is reached in 12 min``
- ``tower-a/roof: sensor offline: no heartbeat for 6 min``

Times 12 h or more away from ``at`` carry their date. A message is always one line: every
part is either validated (ids, names without control characters) or formatted here.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from noisefleet_core.alerts.model import (
    ALL_DAYS,
    DAY_NAMES,
    BudgetRule,
    EventCountRule,
    EventRule,
    HealthRule,
    LevelRule,
    Rule,
    Tier,
    TimeWindow,
    format_minutes,
)

TransitionKind = Literal["pending", "firing", "escalated", "resolved", "lapsed", "suppressed"]

_DATED_AFTER_S = 12 * 3600.0
_METRIC_NAMES = {"laeq": "LAeq", "lafmax": "LAFmax", "laf90": "LAF90", "lcpeak": "LCpeak"}
_HEALTH_TEXT = {
    "stuck": "levels stuck (LAF10 − LAF90 below {flat_db:g} dB)",
    "noise_floor": "levels at the noise floor (dead microphone?)",
    "clipping": "clipping (more than {max_clipped} clipped samples a minute)",
    "outbox_growing": "outbox growing (over {max_depth} messages or rising)",
    "clock_unsynced": "clock not synchronised",
    "calibration_age": "calibration older than {max_age_days:g} days or missing",
    "degraded": "sensor degraded",
}


def describe(
    rule: Rule,
    transition_kind: TransitionKind,
    value: float | None,
    tier_name: str | None,
    at: float,
    site: str,
    sensor: str,
    timezone: str,
    peak: float | None = None,
    peak_at: float | None = None,
    pending_since: float | None = None,
    level_db: float | None = None,
) -> str:
    """One line describing a transition of ``rule`` for a sensor.

    ``value``: the sample value at ``at`` (dB for level rules, excess over the ambient for
    ``reference="ambient_laf90"``, a count for event_count, seconds until the limit for budget,
    1.0/0.0 for event and health); ``tier_name``: the alert's tier (None: the first); ``at``: the
    transition's time (for ``resolved`` the resolution); ``peak``/``peak_at``: the alert's peak
    (for event rules the loudest LAFmax in dB); ``pending_since``: when the condition began
    (default ``at``); ``level_db``: budget only, the current level. Times are UTC epoch seconds,
    shown in ``timezone``.
    """
    clock = _Clock(timezone, at)
    since = at if pending_since is None else pending_since
    condition = _condition(rule, value, _tier(rule, tier_name), transition_kind, level_db)
    head = f"{site}/{sensor}: "
    if isinstance(rule, HealthRule) and rule.check == "offline" and transition_kind == "firing":
        return head + f"sensor offline: no heartbeat for {_duration(rule.after_s + at - since)}"
    if isinstance(rule, BudgetRule) and transition_kind in ("firing", "escalated"):
        return head + condition + _active(rule.active)
    text = head + condition + _active(rule.active) + f" since {clock(since)}"
    if transition_kind == "resolved":
        text += f", resolved at {clock(at)}"
        if peak is not None and math.isfinite(peak) and not isinstance(rule, HealthRule):
            where = "" if peak_at is None else f" at {clock(peak_at)}"
            text += f" (peak {_peak(rule, peak)}{where})"
    elif transition_kind == "pending":
        text += f" (pending: fires after {_duration(rule.min_duration_s)})"
    elif transition_kind == "lapsed":
        text += f", lapsed at {clock(at)} before {_duration(rule.min_duration_s)}"
    elif transition_kind == "suppressed":
        text += " (suppressed: in the cooldown after the last alert)"
    elif transition_kind == "escalated":
        text += f", escalated at {clock(at)}"
    return text


class _Clock:
    """Local HH:MM, with the date for times 12 h or more away from the reference instant (a
    night's 23:41 and 00:12 read well without dates; an alert of days does not)."""

    def __init__(self, timezone: str, reference: float) -> None:
        self._zone = ZoneInfo(timezone)
        self._reference = reference

    def __call__(self, t: float) -> str:
        local = datetime.fromtimestamp(t, self._zone)
        if abs(t - self._reference) < _DATED_AFTER_S:
            return local.strftime("%H:%M")
        return local.strftime("%Y-%m-%d %H:%M")


def _tier(rule: Rule, tier_name: str | None) -> Tier:
    for tier in rule.tiers:
        if tier.name == tier_name:
            return tier
    return rule.tiers[0]


def _limit_phrase(tier: Tier, unit: str) -> str:
    kind = "the limit" if tier.name == "limit" else f"the {tier.name} limit"
    return f"{kind} {tier.limit:g}{unit}"


def _window_label(seconds: float) -> str:
    """900 -> "15min", 3600 -> "1h", 57600 -> "16h", 30 -> "30s" (as in LAeq,15min)."""
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"


def _metric_label(rule: LevelRule) -> str:
    return f"{_METRIC_NAMES[rule.metric]},{_window_label(rule.window_s)}"


def _unit(rule: Rule) -> str:
    return "dB(C)" if isinstance(rule, LevelRule) and rule.metric == "lcpeak" else "dB(A)"


def _number(value: float | None, fmt: str) -> str | None:
    if value is None or not math.isfinite(value):
        return None
    return format(value, fmt)


def _condition(
    rule: Rule,
    value: float | None,
    tier: Tier,
    transition_kind: str,
    level_db: float | None,
) -> str:
    resolved = transition_kind == "resolved"
    if isinstance(rule, LevelRule):
        label = _metric_label(rule)
        if rule.reference == "ambient_laf90":
            shown = None if resolved else _number(value, ".1f")
            amount = f" {shown} dB" if shown is not None else ""
            return f"{label}{amount} above the ambient LAF90 by more than {tier.limit:g} dB"
        shown = None if resolved else _number(value, ".1f")
        amount = f" {shown} {_unit(rule)}" if shown is not None else ""
        return f"{label}{amount} above {_limit_phrase(tier, ' dB')}"
    if isinstance(rule, EventRule):
        return f"sound event ({', '.join(sorted(rule.labels))})"
    if isinstance(rule, EventCountRule):
        labels = ", ".join(sorted(rule.labels))
        shown = None if resolved else _number(value, ".0f")
        count = f"{shown} " if shown is not None else ""
        window = _window_label(rule.window_s)
        return f"{count}events ({labels}) in {window}, more than {_limit_phrase(tier, '')}"
    if isinstance(rule, HealthRule):
        if rule.check == "offline":
            return "sensor offline"
        template = _HEALTH_TEXT[rule.check]
        return template.format(
            flat_db=rule.flat_db,
            max_clipped=rule.max_clipped,
            max_depth=rule.max_depth,
            max_age_days=rule.max_age_days,
        )
    limit = f"the {_budget_window(rule)} LAeq limit {rule.limit_db:g} dB"
    if resolved or transition_kind in ("pending", "lapsed", "suppressed"):
        return f"budget warning: {limit} within {_duration(rule.warn_within_s)}"
    current = _number(level_db, ".1f")
    at_level = f"at the current level ({current} dB)" if current else "at the current level"
    if value is not None and math.isfinite(value) and value <= 0:
        return f"{at_level} {limit} is certain to be exceeded"
    eta = _duration(value) if value is not None and math.isfinite(value) else "soon"
    return f"{at_level} {limit} is reached in {eta}"


def _budget_window(rule: BudgetRule) -> str:
    """1-h, 15-min, 16-h: the window as an adjective."""
    seconds = rule.window_s
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}-h"
    return f"{seconds / 60:g}-min"


def _peak(rule: Rule, peak: float) -> str:
    if isinstance(rule, EventCountRule):
        return f"{peak:.0f} events"
    if isinstance(rule, BudgetRule):
        return f"in {_duration(peak)}"
    if isinstance(rule, LevelRule) and rule.reference == "ambient_laf90":
        return f"{peak:.1f} dB above the ambient"
    return f"{peak:.1f} dB"


def _duration(seconds: float) -> str:
    """45 s, 12 min, 1 h 5 min, 2 h (whole minutes from a minute on)."""
    if seconds < 60:
        return f"{max(seconds, 0.0):.0f} s"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{minutes} min"
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"


def _active(windows: tuple[TimeWindow, ...]) -> str:
    if not windows:
        return ""
    return " (active " + ", ".join(_window_text(w) for w in windows) + ")"


def _window_text(window: TimeWindow) -> str:
    times = f"{format_minutes(window.start_min)}–{format_minutes(window.end_min)}"
    if window.days == ALL_DAYS:
        return times
    return f"{_days_text(window.days)} {times}"


def _days_text(days: frozenset[int]) -> str:
    """Runs of consecutive days as ranges: mon–fri, sat, sun."""
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}–{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[d] for d in run)
    return ",".join(parts)
