"""Rule sets: normalised round trip, stable hashes, sensor scoping, merging, hostile input."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisefleet_core.alerts.errors import RuleError
from noisefleet_core.alerts.rules import (
    LevelRule,
    RuleSet,
    Tier,
    TimeWindow,
    load_rules_toml,
    merge_rule_sets,
    parse_rule,
    parse_rules,
)

FIXED_RULE: dict[str, Any] = {
    "id": "quiet-hours",
    "kind": "level",
    "metric": "laeq",
    "window_s": 900,
    "limit_db": 70,
    "active": [{"from": "22:00", "to": "07:00"}],
}
FIXED_HASH = "a5b7705e77860c65d86cc974f7e5b1d6afed8294247c61eb8890aefd66272f2b"

# --- strategies of valid plain rules -----------------------------------------------------------

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ids = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,10}", fullmatch=True)
hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
windows = st.fixed_dictionaries(
    {"from": hhmm, "to": st.one_of(hhmm, st.just("24:00"))},
    optional={"days": st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True)},
)
site_ids = st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True)
common: dict[str, st.SearchStrategy[Any]] = {
    "name": st.text(
        st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_categories=["Cc"]),
        max_size=20,
    ),
    "enabled": st.booleans(),
    "sites": st.lists(site_ids, min_size=1, max_size=3),
    "active": st.lists(windows, max_size=3),
    "min_duration_s": st.floats(0, 3600),
    "release_s": st.integers(0, 3600),
    "cooldown_s": st.floats(0, 3600),
    "severity": st.sampled_from(["info", "warning", "critical"]),
    "notify": st.lists(st.sampled_from(["ops", "hooks", "mail"]), max_size=3),
}


def ascending_tiers(key: str, whole: bool) -> st.SearchStrategy[list[dict[str, Any]]]:
    def build(steps: list[int]) -> list[dict[str, Any]]:
        out, limit = [], 0
        for i, step in enumerate(steps):
            limit += step
            out.append({"name": f"t{i}", key: limit if whole else limit + 0.5})
        return out

    return st.lists(st.integers(1, 20), min_size=1, max_size=4).map(build)


def rule_of(kind: str, required: dict[str, Any], optional: dict[str, Any]) -> Any:
    return st.fixed_dictionaries(
        {"id": ids, "kind": st.just(kind), **required}, optional={**common, **optional}
    )


level_rules = rule_of(
    "level",
    {
        "metric": st.just("laeq"),
        "window_s": st.sampled_from([1, 30, 60, 900, 3600, 57600]),
        "tiers": ascending_tiers("limit_db", whole=False),
    },
    {
        "hysteresis_db": st.floats(0, 10),
        "min_coverage": st.floats(0.1, 1),
        "penalties": st.lists(windows.map(lambda w: {**w, "add_db": 6}), max_size=2),
    },
)
clock_rules = rule_of(
    "level",
    {
        "metric": st.sampled_from(["lafmax", "laf90", "lcpeak"]),
        "align": st.just("clock"),
        "window_s": st.sampled_from([60, 900, 3600, 28800]),
        "limit_db": st.floats(0, 200),
    },
    {},
)
event_rules = rule_of(
    "event",
    {"labels": st.lists(st.sampled_from(["dog_bark", "siren", "Car horn"]), min_size=1)},
    {"min_confidence": st.floats(0, 1), "min_lafmax_db": st.floats(0, 120)},
)
count_rules = rule_of(
    "event_count",
    {
        "labels": st.lists(st.sampled_from(["dog_bark", "siren"]), min_size=1),
        "window_s": st.sampled_from([10, 60, 3600]),
        "tiers": ascending_tiers("limit", whole=True),
    },
    {"align": st.sampled_from(["rolling", "clock"])},
)
health_rules = st.one_of(
    rule_of(
        "health",
        {"check": st.just("stuck")},
        {"after_s": st.floats(1, 3600), "flat_db": st.floats(0.1, 2)},
    ),
    rule_of(
        "health",
        {"check": st.just("outbox_growing")},
        {"max_depth": st.integers(0, 10**6), "heartbeats": st.integers(2, 10)},
    ),
    rule_of(
        "health",
        {"check": st.just("calibration_age")},
        {"max_age_days": st.floats(1, 1000), "missing_fires": st.booleans()},
    ),
)
budget_rules = rule_of(
    "budget",
    {
        "window_s": st.sampled_from([900, 3600]),
        "align": st.just("clock"),
        "limit_db": st.floats(30, 90),
    },
    {"warn_within_s": st.floats(1, 3600), "basis_s": st.sampled_from([60, 300, 600])},
)
any_rule = st.one_of(level_rules, clock_rules, event_rules, count_rules, health_rules, budget_rules)


@settings(max_examples=300, deadline=None)
@given(any_rule)
def test_normalised_form_round_trips(plain: dict[str, Any]) -> None:
    rule = parse_rule(plain, "rule")
    normal = rule.to_dict()
    again = parse_rule(normal, "rule")
    assert again == rule
    assert again.to_dict() == normal
    assert again.rule_hash == rule.rule_hash


@settings(max_examples=100, deadline=None)
@given(any_rule, st.randoms(use_true_random=False))
def test_hash_ignores_key_order(plain: dict[str, Any], random: Any) -> None:
    keys = list(plain)
    random.shuffle(keys)
    shuffled = {key: plain[key] for key in keys}
    assert parse_rule(shuffled).rule_hash == parse_rule(plain).rule_hash


def test_hash_is_a_fixed_literal() -> None:
    rule = parse_rule(FIXED_RULE)
    assert rule.rule_hash == FIXED_HASH
    # An int and the same float mean the same rule.
    assert parse_rule({**FIXED_RULE, "window_s": 900.0, "limit_db": 70.0}).rule_hash == FIXED_HASH
    # The shorthand and its tiers are one rule; a different limit is another.
    tiers = {k: v for k, v in FIXED_RULE.items() if k != "limit_db"}
    tiers["tiers"] = [{"name": "limit", "limit_db": 70}]
    assert parse_rule(tiers).rule_hash == FIXED_HASH
    assert parse_rule({**FIXED_RULE, "limit_db": 71}).rule_hash != FIXED_HASH


def test_hash_is_the_same_in_another_process() -> None:
    code = (
        "from noisefleet_core.alerts.rules import parse_rule;"
        f"print(parse_rule({FIXED_RULE!r}).rule_hash)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert out.stdout.strip() == FIXED_HASH


def test_lists_without_meaning_in_their_order_are_sorted() -> None:
    a = parse_rule({**FIXED_RULE, "sites": ["b", "a"], "notify": ["y", "x", "y"]})
    b = parse_rule({**FIXED_RULE, "sites": ["a", "b", "a"], "notify": ["x", "y"]})
    assert a == b
    assert a.rule_hash == b.rule_hash
    assert a.to_dict()["sites"] == ["a", "b"]
    assert a.notify == ("x", "y")


# --- scoping -----------------------------------------------------------------------------------


def test_for_sensor_scopes_by_site_sensor_and_enabled() -> None:
    def rule(rule_id: str, **extra: Any) -> dict[str, Any]:
        return {**FIXED_RULE, "id": rule_id, **extra}

    rules = parse_rules(
        {
            "rules": [
                rule("everywhere"),
                rule("tower-a", sites=["tower-a"]),
                rule("roof-only", sites=["tower-a"], sensors=["tower-a/roof"]),
                rule("any-roof", sensors=["tower-a/roof", "tower-b/roof"]),
                rule("off", enabled=False),
            ]
        }
    )

    def ids(site: str, sensor: str) -> list[str]:
        return [r.id for r in rules.for_sensor(site, sensor)]

    assert ids("tower-a", "roof") == ["everywhere", "tower-a", "roof-only", "any-roof"]
    assert ids("tower-a", "yard") == ["everywhere", "tower-a"]
    assert ids("tower-b", "roof") == ["everywhere", "any-roof"]
    assert ids("tower-c", "roof") == ["everywhere"]
    assert rules.by_id["off"].applies_to("tower-c", "roof")


def test_rule_set_refuses_duplicate_ids_when_built_directly() -> None:
    rule = LevelRule(id="x", metric="laeq", window_s=60.0, tiers=(Tier("limit", 70.0),))
    with pytest.raises(RuleError, match="rule id 'x' is used twice"):
        RuleSet((rule, rule))


def test_merge_names_both_sources_of_a_duplicate() -> None:
    file_rules = load_rules_toml(
        '[[rules]]\nid = "a"\nkind = "health"\ncheck = "offline"\n'
        '[[rules]]\nid = "b"\nkind = "health"\ncheck = "degraded"\n'
    )
    db_rules = parse_rules({"rules": [{"id": "c", "kind": "health", "check": "stuck"}]})
    merged = merge_rule_sets(file_rules, db_rules)
    assert [r.id for r in merged.rules] == ["a", "b", "c"]
    clash = parse_rules({"rules": [{"id": "b", "kind": "health", "check": "stuck"}]})
    with pytest.raises(RuleError) as caught:
        merge_rule_sets(file_rules, clash)
    assert str(caught.value) == (
        "rule id 'b' is defined in the rule file (rules[1]) and in the database (rules[0])"
    )


# --- hostile input -----------------------------------------------------------------------------


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": [FIXED_RULE] * 10_001}, "rules: must have at most 10000 items, got 10001"),
        (
            {"rules": [{**FIXED_RULE, "sites": ["a"] * 1_000_000}]},
            "rules[0] (quiet-hours).sites: must have at most 10000 items, got 1000000",
        ),
        (
            {"rules": [{**FIXED_RULE, "sites": nested(100_000)}]},
            "rules[0] (quiet-hours).sites[0]: must be a string, got a list of 1 items",
        ),
        (
            {"rules": [{**FIXED_RULE, "name": nested(100_000)}]},
            "rules[0] (quiet-hours).name: must be a string, got a list of 1 items",
        ),
        (
            {"rules": [{**FIXED_RULE, "name": "x" * 10_000_000}]},
            "rules[0] (quiet-hours).name: must be at most 200 characters, got 10000000",
        ),
        (
            {"rules": [{str(i): i for i in range(1_000_000)}]},
            "rules[0]: has 1000000 keys, more than the 64 allowed",
        ),
        (
            {"rules": [{**FIXED_RULE, "x" * 1_000_000: 1}]},
            "rules[0] (quiet-hours).xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…: unknown key",
        ),
        (
            {"rules": [{**FIXED_RULE, "active": [{"from": "22:00", "to": "07:00"}] * 1000}]},
            "rules[0] (quiet-hours).active: must have at most 32 items, got 1000",
        ),
        (
            {"rules": [{**FIXED_RULE, "id": "x" * 1_000_000}]},
            "rules[0].id: must be at most 256 characters, got 1000000",
        ),
    ],
)
def test_hostile_input_is_refused_quickly(data: dict[str, Any], message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(RuleError) as caught:
        parse_rules(data)
    assert time.perf_counter() - started < 0.5
    assert str(caught.value) == message


def test_many_valid_rules_validate_in_linear_time() -> None:
    data = {"rules": [{**FIXED_RULE, "id": f"r{i}"} for i in range(10_000)]}
    started = time.perf_counter()
    assert len(parse_rules(data).rules) == 10_000
    assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize(
    "text",
    [
        "rules = " + "[" * 100_000 + "]" * 100_000,
        "a = " + "{b = " * 50_000 + "1" + "}" * 50_000,
        "x" * (16 * 1024 * 1024 + 1),
    ],
)
def test_hostile_toml_is_refused_in_one_line(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(RuleError) as caught:
        load_rules_toml(text)
    assert time.perf_counter() - started < 2.0
    assert "\n" not in str(caught.value)


def test_time_window_defaults_cover_the_whole_day() -> None:
    window = TimeWindow()
    assert window.nominal_s == 86400
    assert not window.crosses_midnight
    assert TimeWindow(start_min=360, end_min=360).nominal_s == 86400


def test_for_sensor_looks_up_one_site_of_many_rules_quickly() -> None:
    data = {
        "rules": [
            {**FIXED_RULE, "id": f"r{i}", "sites": [f"site-{i % 1000}"]} for i in range(10_000)
        ]
    }
    rules = parse_rules(data)
    started = time.perf_counter()
    for _ in range(1000):
        found = rules.for_sensor("site-7", "roof")
    assert time.perf_counter() - started < 0.5
    assert [r.id for r in found] == [f"r{i}" for i in range(7, 10_000, 1000)]
