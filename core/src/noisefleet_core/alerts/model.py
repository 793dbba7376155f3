"""The alert rule model: frozen dataclasses, one per rule kind, and the rule set.

Import these from ``rules``, which adds the validator; this module holds the classes alone so the
validator can build them without an import cycle.

A rule says what to compute for a sensor (``step_s``, ``lookback_s``), which values are a
condition (``tiers``, ``hysteresis``) and how an alert lives (``min_duration_s``, ``release_s``,
``cooldown_s``). Rules come from TOML files or a database as plain data; ``parse_rules`` validates a
whole set into these objects, and ``to_dict`` gives the normalised plain form back:
every default filled in, lists sorted where their order has no meaning, ``limit_db`` written as
``tiers``. ``rule_hash`` is the SHA-256 of that form as canonical JSON, so a stored evaluation state
can tell whether its rule changed meaning.

Times of day are local to the site (``TimeWindow``); turning them into UTC instants is the job
of ``timewindows``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from noisefleet_core.alerts.errors import RuleError
from noisefleet_core.alerts.values import (
    ALL_DAYS,
    CONDITION_TIERS,
    DAY_NAMES,
    MINUTES_PER_DAY,
    Penalty,
    Tier,
    TimeWindow,
    format_minutes,
    penalty_dict,
)

__all__ = [
    "ALL_DAYS",
    "CONDITION_TIERS",
    "DAY_NAMES",
    "HEALTH_PARAMS",
    "MINUTES_PER_DAY",
    "BudgetRule",
    "EventCountRule",
    "EventRule",
    "HealthRule",
    "LevelRule",
    "Penalty",
    "Rule",
    "RuleCommon",
    "RuleSet",
    "Tier",
    "TimeWindow",
    "format_minutes",
]

RuleKind = Literal["level", "event", "event_count", "health", "budget"]
Severity = Literal["info", "warning", "critical"]
Metric = Literal["laeq", "lafmax", "laf90", "lcpeak"]
Align = Literal["rolling", "clock", "period"]
Reference = Literal["none", "ambient_laf90"]
HealthCheck = Literal[
    "offline",
    "stuck",
    "noise_floor",
    "clipping",
    "outbox_growing",
    "clock_unsynced",
    "calibration_age",
    "degraded",
]

DST_ALLOWANCE_S = 3600.0
"""A local window longer than an hour may last one hour longer in real time on the day clocks go
back; lookbacks of clock and period rules include this much."""
HEALTH_LOOKBACK_S = 3600.0
"""Lookback of the health checks without an ``after_s`` (the last heartbeats and statuses)."""
HEALTH_PARAMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "offline": ("after_s",),
        "stuck": ("after_s", "flat_db"),
        "noise_floor": ("after_s", "margin_db"),
        "clipping": ("max_clipped",),
        "outbox_growing": ("max_depth", "heartbeats"),
        "clock_unsynced": (),
        "calibration_age": ("max_age_days", "missing_fires"),
        "degraded": (),
    }
)
"""The parameters each health check takes (the others are refused by the validator)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleCommon:
    """What every rule kind has: identity, scope, active times, lifecycle timing, routing."""

    kind: ClassVar[RuleKind]
    id: str
    """Unique id, ``[a-z0-9][a-z0-9_.-]{0,63}``."""
    name: str = ""
    """Human name used in notifications; empty means the id."""
    enabled: bool = True
    sites: frozenset[str] | None = None
    """Site ids the rule applies to; None: all sites."""
    sensors: frozenset[str] | None = None
    """``"site/sensor"`` ids that narrow the scope further; None: all sensors of the sites."""
    active: tuple[TimeWindow, ...] = ()
    """Local time windows (site's zone) in which the rule applies; empty: always."""
    min_duration_s: float = 0.0
    """The condition must hold this long before the alert fires."""
    release_s: float = 0.0
    """The condition must be false this long before the alert resolves."""
    cooldown_s: float = 0.0
    """After a resolution no new alert opens for this long (occurrences count as suppressed)."""
    severity: Severity = "warning"
    notify: tuple[str, ...] | None = None
    """Notifier names (sorted, unique); None: all notifiers."""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.id)

    def applies_to(self, site: str, sensor: str) -> bool:
        """Whether the rule's scope covers a sensor (enabled or not)."""
        if self.sites is not None and site not in self.sites:
            return False
        return self.sensors is None or f"{site}/{sensor}" in self.sensors

    @property
    def rule_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of ``to_dict()``: stable across processes and
        Python versions (sorted keys, no whitespace, ASCII, floats in their shortest repr).
        Computed once per rule (rules are frozen and hashable; the evaluator asks per run)."""
        return _rule_hash(self)

    def to_dict(self) -> dict[str, Any]:
        """The normalised plain form, which ``parse_rule`` accepts back unchanged."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "enabled": self.enabled,
            "sites": None if self.sites is None else sorted(self.sites),
            "sensors": None if self.sensors is None else sorted(self.sensors),
            "active": [w.to_dict() for w in self.active],
            "min_duration_s": self.min_duration_s,
            "release_s": self.release_s,
            "cooldown_s": self.cooldown_s,
            "severity": self.severity,
            "notify": None if self.notify is None else list(self.notify),
        }
        out.update(self._kind_dict())
        return {key: value for key, value in out.items() if value is not None}

    def _kind_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def _active_nominal_s(self) -> float:
        """The longest active window in local clock time (a period's nominal length)."""
        return max((w.nominal_s for w in self.active), default=float(MINUTES_PER_DAY * 60))


@functools.lru_cache(maxsize=65536)
def _rule_hash(rule: RuleCommon) -> str:
    text = json.dumps(
        rule.to_dict(),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _aligned_lookback_s(align: Align, window_s: float, rule: RuleCommon) -> float:
    if align == "rolling":
        return window_s
    length = rule._active_nominal_s() if align == "period" else window_s
    return length + (DST_ALLOWANCE_S if length > DST_ALLOWANCE_S else 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelRule(RuleCommon):
    """A level metric over a window exceeds a limit (with tiers and hysteresis)."""

    kind: ClassVar[Literal["level"]] = "level"
    metric: Metric
    window_s: float
    """Window length; for ``align="period"`` the nominal length of the longest active window
    (informational: the windows are the occurrences of ``active``)."""
    tiers: tuple[Tier, ...]
    """Ascending limits in dB, unique names."""
    align: Align = "rolling"
    hysteresis_db: float = 0.0
    """While firing the condition holds down to limit - hysteresis."""
    min_coverage: float = 0.5
    """Fraction of the window that must be measured for a value."""
    penalties: tuple[Penalty, ...] = ()
    """Levels added inside windows (laeq only)."""
    reference: Reference = "none"
    """``ambient_laf90``: limits are relative to the LAF90 over ``reference_window_s`` before the
    window (rolling laeq/lafmax only)."""
    reference_window_s: float = 3600.0

    @property
    def hysteresis(self) -> float:
        """Hysteresis in dB."""
        return self.hysteresis_db

    @property
    def step_s(self) -> float:
        """Sample spacing: minute data for windows of a minute or more, records below."""
        return 60.0 if self.window_s >= 60 else 1.0

    @property
    def lookback_s(self) -> float:
        """Data needed before the first sample (window, reference window, DST allowance)."""
        reference = self.reference_window_s if self.reference == "ambient_laf90" else 0.0
        return _aligned_lookback_s(self.align, self.window_s, self) + reference

    def _kind_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metric": self.metric,
            "window_s": self.window_s,
            "align": self.align,
            "tiers": [{"name": t.name, "limit_db": t.limit} for t in self.tiers],
            "hysteresis_db": self.hysteresis_db,
            "min_coverage": self.min_coverage,
            "penalties": [penalty_dict(p) for p in self.penalties],
            "reference": self.reference,
        }
        if self.reference == "ambient_laf90":
            out["reference_window_s"] = self.reference_window_s
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRule(RuleCommon):
    """A qualifying sound event overlaps the sample (value 1.0, else 0.0)."""

    kind: ClassVar[Literal["event"]] = "event"
    labels: frozenset[str]
    min_confidence: float = 0.0
    min_laeq_db: float | None = None
    min_lafmax_db: float | None = None

    @property
    def tiers(self) -> tuple[Tier, ...]:
        """The one condition tier."""
        return CONDITION_TIERS

    @property
    def hysteresis(self) -> float:
        """No hysteresis for conditions."""
        return 0.0

    @property
    def step_s(self) -> float:
        """One-second samples."""
        return 1.0

    @property
    def lookback_s(self) -> float:
        """One step: the server passes the events that overlap ``[t_from - lookback_s, t_to]``."""
        return self.step_s

    def _kind_dict(self) -> dict[str, Any]:
        return {
            "labels": sorted(self.labels),
            "min_confidence": self.min_confidence,
            "min_laeq_db": self.min_laeq_db,
            "min_lafmax_db": self.min_lafmax_db,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class EventCountRule(RuleCommon):
    """More qualifying event starts in a window than a limit (value = the count)."""

    kind: ClassVar[Literal["event_count"]] = "event_count"
    labels: frozenset[str]
    window_s: float
    tiers: tuple[Tier, ...]
    """Ascending counts, unique names."""
    min_confidence: float = 0.0
    align: Literal["rolling", "clock"] = "rolling"

    @property
    def hysteresis(self) -> float:
        """No hysteresis for counts."""
        return 0.0

    @property
    def step_s(self) -> float:
        """Minute samples for windows of a minute or more, else one second."""
        return 60.0 if self.window_s >= 60 else 1.0

    @property
    def lookback_s(self) -> float:
        """One window (plus the DST allowance for clock windows over an hour)."""
        return _aligned_lookback_s(self.align, self.window_s, self)

    def _kind_dict(self) -> dict[str, Any]:
        return {
            "labels": sorted(self.labels),
            "min_confidence": self.min_confidence,
            "window_s": self.window_s,
            "align": self.align,
            "tiers": [{"name": t.name, "limit": int(t.limit)} for t in self.tiers],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthRule(RuleCommon):
    """A sensor health check (value 1.0 while the check fails, else 0.0).

    Only the parameters of ``check`` (``HEALTH_PARAMS``) mean anything; the others keep their
    defaults and are left out of ``to_dict`` and the hash."""

    kind: ClassVar[Literal["health"]] = "health"
    check: HealthCheck
    after_s: float = 300.0
    """offline: no heartbeat for this long; stuck, noise_floor: the state lasts this long."""
    flat_db: float = 0.2
    """stuck: LAF10 - LAF90 below this and LAFmax - LAF90 below twice this."""
    margin_db: float = 1.0
    """noise_floor: LAeq at or below the sensor's noise floor plus this."""
    max_clipped: int = 0
    """clipping: more clipped samples than this in a minute."""
    max_depth: int = 1000
    """outbox_growing: outbox deeper than this."""
    heartbeats: int = 3
    """outbox_growing: or rising over this many heartbeats."""
    max_age_days: float = 365.0
    """calibration_age: calibration older than this."""
    missing_fires: bool = True
    """calibration_age: a missing calibration date fails the check."""

    @property
    def tiers(self) -> tuple[Tier, ...]:
        """The one condition tier."""
        return CONDITION_TIERS

    @property
    def hysteresis(self) -> float:
        """No hysteresis for conditions."""
        return 0.0

    @property
    def step_s(self) -> float:
        """Minute samples."""
        return 60.0

    @property
    def lookback_s(self) -> float:
        """``after_s`` for the checks that wait, a minute for clipping, else an hour."""
        if "after_s" in HEALTH_PARAMS[self.check]:
            return self.after_s
        return 60.0 if self.check == "clipping" else HEALTH_LOOKBACK_S

    def _kind_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.check}
        for name in HEALTH_PARAMS[self.check]:
            out[name] = getattr(self, name)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetRule(RuleCommon):
    """Warns before an aligned window's LAeq reaches its limit at the current level.

    The sample value is the predicted number of seconds until the limit is reached (0 once it
    is certain); the condition is that value <= ``warn_within_s`` and shorter than the time left
    in the window, computed by the budget module, not by ``value > tier.limit``. The one tier
    carries the window's limit in dB for messages and payloads."""

    kind: ClassVar[Literal["budget"]] = "budget"
    metric: Literal["laeq"] = "laeq"
    window_s: float
    """Window length; for ``align="period"`` the nominal length of the longest active window."""
    align: Literal["clock", "period"]
    limit_db: float
    warn_within_s: float = 1800.0
    basis_s: float = 300.0
    """The current level is the LAeq of the last this many seconds."""
    penalties: tuple[Penalty, ...] = ()
    """Levels added to the energy inside windows, as for level rules (TA Lärm)."""

    @property
    def tiers(self) -> tuple[Tier, ...]:
        """One tier "limit" with the window's limit in dB."""
        return (Tier("limit", self.limit_db),)

    @property
    def hysteresis(self) -> float:
        """No hysteresis."""
        return 0.0

    @property
    def step_s(self) -> float:
        """Minute samples."""
        return 60.0

    @property
    def lookback_s(self) -> float:
        """One aligned window (DST allowance included) plus the basis of the current level."""
        return _aligned_lookback_s(self.align, self.window_s, self) + self.basis_s

    def _kind_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "window_s": self.window_s,
            "align": self.align,
            "limit_db": self.limit_db,
            "warn_within_s": self.warn_within_s,
            "basis_s": self.basis_s,
            "penalties": [penalty_dict(p) for p in self.penalties],
        }


Rule = LevelRule | EventRule | EventCountRule | HealthRule | BudgetRule
RULE_CLASSES: Mapping[str, type[Rule]] = MappingProxyType(
    {cls.kind: cls for cls in (LevelRule, EventRule, EventCountRule, HealthRule, BudgetRule)}
)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Validated rules with unique ids, in their given order."""

    rules: tuple[Rule, ...] = ()
    by_id: Mapping[str, Rule] = field(init=False, repr=False, compare=False)
    """The rules by id."""
    _by_site: Mapping[str | None, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    """Positions of the enabled rules per listed site; None: the rules for every site. Looking
    a sensor up costs its site's rules, not the whole set's."""

    def __post_init__(self) -> None:
        by_id: dict[str, Rule] = {}
        by_site: dict[str | None, list[int]] = {None: []}
        for index, rule in enumerate(self.rules):
            if rule.id in by_id:
                raise RuleError(f"rule id {rule.id!r} is used twice")
            by_id[rule.id] = rule
            if rule.enabled:
                for site in (None,) if rule.sites is None else rule.sites:
                    by_site.setdefault(site, []).append(index)
        object.__setattr__(self, "by_id", MappingProxyType(by_id))
        frozen = {site: tuple(indices) for site, indices in by_site.items()}
        object.__setattr__(self, "_by_site", MappingProxyType(frozen))

    def for_sensor(self, site: str, sensor: str) -> tuple[Rule, ...]:
        """The enabled rules whose scope covers a sensor, in set order."""
        indices = sorted(self._by_site[None] + self._by_site.get(site, ()))
        return tuple(self.rules[i] for i in indices if self.rules[i].applies_to(site, sensor))

    def to_dict(self) -> dict[str, Any]:
        """The normalised plain form of the whole set."""
        return {"rules": [rule.to_dict() for rule in self.rules]}
