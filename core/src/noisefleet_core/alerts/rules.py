"""Alert rules: the model (re-exported from ``model``) and the validation of plain data into it.

``parse_rules`` validates a whole rule set (``{"rules": [...]}``) and raises ``RuleError`` with one
line naming the path and rule id at the first problem: types are strict (a bool is not a number),
unknown keys are refused with the closest known key as a hint (a typo must not silently disable
a rule), ids are unique, ranges and combinations are checked per kind. ``load_rules_toml`` reads a
TOML document; ``merge_rule_sets`` joins the config file's rules with the database's.

Steps of ``parse_rule``: read the common keys (id first, so later messages name the rule), pick
the kind's reader, read and cross-check its keys, build the frozen dataclass. Missing keys take
the dataclass defaults, so defaults live in one place.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any, get_args

from noisefleet_core.alerts._validate import (
    MAX_DB,
    MAX_WINDOWS,
    NAME_ID,
    Table,
    fail,
    read_penalties,
    read_tiers,
    read_window,
)
from noisefleet_core.alerts.errors import RuleError
from noisefleet_core.alerts.model import (
    HEALTH_PARAMS,
    Align,
    BudgetRule,
    EventCountRule,
    EventRule,
    HealthCheck,
    HealthRule,
    LevelRule,
    Metric,
    Penalty,
    Rule,
    RuleCommon,
    RuleKind,
    RuleSet,
    Severity,
    Tier,
    TimeWindow,
)
from noisefleet_core.contract.topics import ID_PATTERN

__all__ = [
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
    "load_rules_toml",
    "merge_rule_sets",
    "parse_rule",
    "parse_rules",
]

MAX_RULES = 10_000
MAX_SCOPE_ITEMS = 10_000
"""Most sites, sensors or labels one rule may list."""
MAX_NOTIFIERS = 64
MAX_TOML_CHARS = 16 * 1024 * 1024
MAX_DURATION_S = 7 * 86400.0
"""Longest min_duration_s, release_s, cooldown_s and after_s (a week)."""
MAX_WINDOW_S = 57600.0

_RULE_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_RULE_ID_HINT = (
    "lower case letters, digits, '_', '.', '-' (at most 64, starting with a letter or digit)"
)
_SITE_ID = re.compile(ID_PATTERN)
_SENSOR_ID = re.compile(f"{ID_PATTERN}/{ID_PATTERN}")
_LABEL = re.compile(r"\S(.{0,62}\S)?")

_COMMON_KEYS = (
    "id",
    "name",
    "kind",
    "enabled",
    "sites",
    "sensors",
    "active",
    "min_duration_s",
    "release_s",
    "cooldown_s",
    "severity",
    "notify",
)
_LEVEL_KEYS = (
    "metric",
    "window_s",
    "align",
    "limit_db",
    "tiers",
    "hysteresis_db",
    "min_coverage",
    "penalties",
    "reference",
    "reference_window_s",
)
_EVENT_KEYS = ("labels", "min_confidence", "min_laeq_db", "min_lafmax_db")
_COUNT_KEYS = ("labels", "min_confidence", "window_s", "align", "limit", "tiers")
_HEALTH_KEYS = ("check", *sorted({p for params in HEALTH_PARAMS.values() for p in params}))
_BUDGET_KEYS = ("metric", "window_s", "align", "limit_db", "warn_within_s", "basis_s", "penalties")
_KIND_KEYS: Mapping[str, tuple[str, ...]] = {
    "level": _LEVEL_KEYS,
    "event": _EVENT_KEYS,
    "event_count": _COUNT_KEYS,
    "health": _HEALTH_KEYS,
    "budget": _BUDGET_KEYS,
}
_ANY_KIND_KEYS = frozenset(key for keys in _KIND_KEYS.values() for key in keys)
_KINDS: tuple[RuleKind, ...] = get_args(RuleKind)
_SEVERITIES: tuple[Severity, ...] = get_args(Severity)
_METRICS: tuple[Metric, ...] = get_args(Metric)
_ALIGNS: tuple[Align, ...] = get_args(Align)
_CHECKS: tuple[HealthCheck, ...] = get_args(HealthCheck)


def load_rules_toml(text: str) -> RuleSet:
    """Validate a TOML rule document (``[[rules]]`` tables)."""
    if len(text) > MAX_TOML_CHARS:
        raise RuleError(f"the rule file has {len(text)} characters, more than {MAX_TOML_CHARS}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RuleError(f"TOML syntax error: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise RuleError("TOML syntax error: nested too deeply") from None
    return parse_rules(data)


def parse_rules(data: Mapping[str, Any]) -> RuleSet:
    """Validate a whole rule set ``{"rules": [...]}`` (no ``rules`` key: an empty set)."""
    table = Table(data, "", ("rules",))
    rules = [parse_rule(item, path) for path, item in table.items("rules", MAX_RULES)]
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        if rule.id in seen:
            raise fail(
                f"rules[{index}] ({rule.id}).id", f"duplicate id, also rules[{seen[rule.id]}]"
            )
        seen[rule.id] = index
    return RuleSet(tuple(rules))


def merge_rule_sets(
    file_rules: RuleSet,
    db_rules: RuleSet,
    *,
    file_source: str = "the rule file",
    db_source: str = "the database",
) -> RuleSet:
    """The rules of both sources (file first), refused when an id is defined in both."""
    if len(file_rules.rules) + len(db_rules.rules) > MAX_RULES:
        raise RuleError(f"more than {MAX_RULES} rules in {file_source} and {db_source} together")
    for index, rule in enumerate(db_rules.rules):
        if rule.id in file_rules.by_id:
            first = file_rules.rules.index(file_rules.by_id[rule.id])
            raise RuleError(
                f"rule id {rule.id!r} is defined in {file_source} (rules[{first}]) "
                f"and in {db_source} (rules[{index}])"
            )
    return RuleSet(file_rules.rules + db_rules.rules)


def parse_rule(obj: object, path: str = "rule") -> Rule:
    """Validate one rule; ``path`` prefixes every message (``rules[2]``)."""
    if not isinstance(obj, Mapping):
        raise fail(path, f"must be a table, got {type(obj).__name__}")
    rule_id = Table(obj, path, obj.keys()).string("id", pattern=_RULE_ID, hint=_RULE_ID_HINT)
    if rule_id is None:
        raise fail(f"{path}.id", "is required")
    path = f"{path} ({rule_id})"
    kind = Table(obj, path, obj.keys()).choice("kind", _KINDS)
    if kind is None:
        raise fail(f"{path}.kind", "is required")
    known = (*_COMMON_KEYS, *_KIND_KEYS[kind])
    for key in obj:
        if key in _ANY_KIND_KEYS and key not in known:
            raise fail(f"{path}.{key}", f'not a key of kind "{kind}"')
    table = Table(obj, path, known)
    common = _common(table)
    common["id"] = rule_id
    if kind == "level":
        return LevelRule(**common, **_level(table))
    if kind == "event":
        return EventRule(**common, **_event(table))
    if kind == "event_count":
        return EventCountRule(**common, **_event_count(table))
    if kind == "health":
        return HealthRule(**common, **_health(table))
    return BudgetRule(**common, **_budget(table))


def _present(**values: object) -> dict[str, Any]:
    """Only the keys that were given: the others take the dataclass defaults."""
    return {key: value for key, value in values.items() if value is not None}


def _common(table: Table) -> dict[str, Any]:
    sites = table.strings("sites", MAX_SCOPE_ITEMS, pattern=_SITE_ID, hint="a site id", min_items=1)
    sensors = table.strings(
        "sensors", MAX_SCOPE_ITEMS, pattern=_SENSOR_ID, hint='"site/sensor"', min_items=1
    )
    if sites is not None and sensors is not None:
        site_set = set(sites)
        for index, sensor in enumerate(sensors):
            if sensor.split("/", 1)[0] not in site_set:
                raise fail(f"{table.at('sensors')}[{index}]", f'"{sensor}" is on no site of sites')
    notify = table.strings("notify", MAX_NOTIFIERS, pattern=NAME_ID, hint="a notifier name")
    active = None
    if table.has("active"):
        active = tuple(read_window(item, path) for path, item in table.items("active", MAX_WINDOWS))
    return _present(
        name=table.string("name", max_chars=200),
        enabled=table.boolean("enabled"),
        sites=None if sites is None else frozenset(sites),
        sensors=None if sensors is None else frozenset(sensors),
        active=active,
        min_duration_s=table.number("min_duration_s", 0, MAX_DURATION_S),
        release_s=table.number("release_s", 0, MAX_DURATION_S),
        cooldown_s=table.number("cooldown_s", 0, MAX_DURATION_S),
        severity=table.choice("severity", _SEVERITIES),
        notify=None if notify is None else tuple(sorted(set(notify))),
    )


def _window_length(table: Table, align: str, *, low: float, minutes: bool) -> float:
    """window_s of an aligned rule; for period the longest active window (nominal)."""
    if align == "period":
        windows = [read_window(item, path) for path, item in table.items("active", MAX_WINDOWS)]
        if not windows:
            raise fail(table.at("align"), 'align = "period" needs active windows')
        nominal = max(w.nominal_s for w in windows)
        given = table.number("window_s", 1, 86400)
        if given is not None and given != nominal:
            raise fail(
                table.at("window_s"),
                f'for align = "period" it is the longest active window ({nominal:g} s); '
                f"leave it out or give that, got {given:g}",
            )
        return nominal
    window = table.number("window_s", low, MAX_WINDOW_S)
    if window is None:
        raise fail(table.at("window_s"), "is required")
    if not window.is_integer():
        raise fail(table.at("window_s"), f"must be a whole number of seconds, got {window:g}")
    if minutes and window >= 60 and window % 60:
        raise fail(table.at("window_s"), f"must be whole minutes from 60 s on, got {window:g}")
    if align == "clock" and 86400 % window:
        raise fail(table.at("window_s"), f'must divide 86400 for align = "clock", got {window:g}')
    return window


def _level(table: Table) -> dict[str, Any]:
    metric = table.choice("metric", _METRICS)
    if metric is None:
        raise fail(table.at("metric"), "is required")
    align = table.choice("align", _ALIGNS) or "rolling"
    window = _window_length(table, align, low=1, minutes=True)
    reference = table.choice("reference", ("none", "ambient_laf90"))
    if reference == "ambient_laf90" and (metric not in ("laeq", "lafmax") or align != "rolling"):
        raise fail(table.at("reference"), '"ambient_laf90" needs metric laeq or lafmax, rolling')
    if table.has("reference_window_s") and reference != "ambient_laf90":
        raise fail(table.at("reference_window_s"), 'only with reference = "ambient_laf90"')
    reference_window = table.number("reference_window_s", 60, 86400)
    if reference_window is not None and reference_window % 60:
        raise fail(
            table.at("reference_window_s"), f"must be whole minutes, got {reference_window:g}"
        )
    if table.items("penalties", MAX_WINDOWS) and metric != "laeq":
        raise fail(table.at("penalties"), f'only for metric "laeq", got "{metric}"')
    return _present(
        metric=metric,
        window_s=window,
        align=align,
        tiers=read_tiers(table, "limit_db", "limit_db", count=False),
        hysteresis_db=table.number("hysteresis_db", 0, 100),
        min_coverage=table.number("min_coverage", 0, 1, low_open=True),
        penalties=read_penalties(table),
        reference=reference,
        reference_window_s=reference_window,
    )


def _labels(table: Table) -> frozenset[str]:
    labels = table.strings("labels", MAX_SCOPE_ITEMS, pattern=_LABEL, hint="a label", min_items=1)
    if labels is None:
        raise fail(table.at("labels"), "is required")
    return frozenset(labels)


def _event(table: Table) -> dict[str, Any]:
    return _present(
        labels=_labels(table),
        min_confidence=table.number("min_confidence", 0, 1),
        min_laeq_db=table.number("min_laeq_db", 0, MAX_DB),
        min_lafmax_db=table.number("min_lafmax_db", 0, MAX_DB),
    )


def _event_count(table: Table) -> dict[str, Any]:
    align = table.choice("align", ("rolling", "clock")) or "rolling"
    return _present(
        labels=_labels(table),
        min_confidence=table.number("min_confidence", 0, 1),
        window_s=_window_length(table, align, low=1, minutes=False),
        align=align,
        tiers=read_tiers(table, "limit", "limit", count=True),
    )


def _health(table: Table) -> dict[str, Any]:
    check = table.choice("check", _CHECKS)
    if check is None:
        raise fail(table.at("check"), "is required")
    allowed = HEALTH_PARAMS[check]
    for key in _HEALTH_KEYS[1:]:
        if table.has(key) and key not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise fail(table.at(key), f'not a parameter of check "{check}" (it takes {takes})')
    return _present(
        check=check,
        after_s=table.number("after_s", 1, MAX_DURATION_S),
        flat_db=table.number("flat_db", 0, 20, low_open=True),
        margin_db=table.number("margin_db", 0, 50),
        max_clipped=table.integer("max_clipped", 0, 10**9),
        max_depth=table.integer("max_depth", 0, 10**9),
        heartbeats=table.integer("heartbeats", 2, 1000),
        max_age_days=table.number("max_age_days", 0, 36500, low_open=True),
        missing_fires=table.boolean("missing_fires"),
    )


def _budget(table: Table) -> dict[str, Any]:
    table.choice("metric", ("laeq",))
    align = table.choice("align", ("clock", "period"))
    if align is None:
        raise fail(table.at("align"), 'is required ("clock" or "period")')
    limit = table.number("limit_db", 0, MAX_DB)
    if limit is None:
        raise fail(table.at("limit_db"), "is required")
    basis = table.number("basis_s", 60, 3600)
    if basis is not None and basis % 60:
        raise fail(table.at("basis_s"), f"must be whole minutes, got {basis:g}")
    window = _window_length(table, align, low=60, minutes=True)
    return _present(
        window_s=window,
        align=align,
        limit_db=limit,
        warn_within_s=table.number("warn_within_s", 0, 86400, low_open=True),
        basis_s=basis,
        penalties=read_penalties(table),
    )
