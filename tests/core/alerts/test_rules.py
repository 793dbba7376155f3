"""Alert rule validation: every bad value refused with one line naming its path, good ones kept."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from noisefleet_core.alerts.errors import AlertError, RuleError
from noisefleet_core.alerts.rules import (
    BudgetRule,
    EventCountRule,
    EventRule,
    HealthRule,
    LevelRule,
    Penalty,
    Tier,
    TimeWindow,
    load_rules_toml,
    parse_rule,
    parse_rules,
)

QUIET_HOURS = """
[[rules]]
id = "quiet-hours"
name = "Quiet hours"
kind = "level"
metric = "laeq"
window_s = 900
limit_db = 70
active = [{from = "22:00", to = "07:00"}]
min_duration_s = 300
severity = "critical"
notify = ["ops", "hooks"]

[[rules]]
id = "ta-laerm-day"
kind = "level"
metric = "laeq"
align = "period"
active = [{from = "06:00", to = "22:00"}]
tiers = [{name = "warning", limit_db = 52}, {name = "limit", limit_db = 55}]
penalties = [
  {days = ["mon", "tue", "wed", "thu", "fri", "sat"], from = "06:00", to = "07:00", add_db = 6},
]
"""


def level(**extra: Any) -> dict[str, Any]:
    return {"id": "night-peak", "kind": "level", "metric": "laeq", "window_s": 900, **extra}


def fails(rule: dict[str, Any], *others: dict[str, Any]) -> str:
    """The message for a set whose last rule is ``rule`` (after ``others``)."""
    with pytest.raises(RuleError) as caught:
        parse_rules({"rules": [*others, rule]})
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_toml_rules_parse_into_dataclasses() -> None:
    rules = load_rules_toml(QUIET_HOURS)
    quiet, day = rules.rules
    assert quiet == LevelRule(
        id="quiet-hours",
        name="Quiet hours",
        metric="laeq",
        window_s=900.0,
        tiers=(Tier("limit", 70.0),),
        active=(TimeWindow(start_min=22 * 60, end_min=7 * 60),),
        min_duration_s=300.0,
        severity="critical",
        notify=("hooks", "ops"),
    )
    assert quiet.kind == "level"
    assert quiet.active[0].crosses_midnight
    assert isinstance(day, LevelRule)
    assert day.window_s == 57600.0  # the 16-h period, nominal
    assert day.tiers == (Tier("warning", 52.0), Tier("limit", 55.0))
    assert day.penalties == (Penalty(TimeWindow(frozenset(range(6)), 6 * 60, 7 * 60), 6.0),)
    assert rules.by_id["ta-laerm-day"] is day


def test_defaults_and_properties_per_kind() -> None:
    rules = parse_rules(
        {
            "rules": [
                level(window_s=30, limit_db=80),
                {"id": "bark", "kind": "event", "labels": ["dog_bark"]},
                {
                    "id": "barks",
                    "kind": "event_count",
                    "labels": ["dog_bark"],
                    "window_s": 3600,
                    "align": "clock",
                    "limit": 3,
                },
                {"id": "offline", "kind": "health", "check": "offline"},
                {
                    "id": "budget",
                    "kind": "budget",
                    "window_s": 3600,
                    "align": "clock",
                    "limit_db": 65,
                },
                level(id="ambient", reference="ambient_laf90", limit_db=10, hysteresis_db=2),
            ]
        }
    )
    short, bark, barks, offline, budget, ambient = rules.rules
    assert isinstance(short, LevelRule)
    assert (short.step_s, short.lookback_s, short.hysteresis) == (1.0, 30.0, 0.0)
    assert short.name == "night-peak"
    assert short.enabled
    assert short.severity == "warning"
    assert short.sites is None
    assert short.notify is None
    assert short.min_coverage == 0.5
    assert isinstance(bark, EventRule)
    assert (bark.step_s, bark.tiers, bark.hysteresis) == (1.0, (Tier("limit", 0.5),), 0.0)
    assert isinstance(barks, EventCountRule)
    assert (barks.step_s, barks.lookback_s, barks.tiers) == (60.0, 3600.0, (Tier("limit", 3),))
    assert isinstance(offline, HealthRule)
    assert (offline.step_s, offline.lookback_s, offline.after_s) == (60.0, 300.0, 300.0)
    assert isinstance(budget, BudgetRule)
    assert (budget.step_s, budget.lookback_s, budget.tiers) == (60.0, 3900.0, (Tier("limit", 65),))
    assert isinstance(ambient, LevelRule)
    assert ambient.lookback_s == 900 + 3600
    assert ambient.hysteresis == 2.0


def test_lookback_of_aligned_windows_allows_for_dst() -> None:
    rules = parse_rules(
        {
            "rules": [
                level(id="hour", align="clock", window_s=3600, limit_db=45),
                level(id="eight", align="clock", window_s=28800, limit_db=45),
                {
                    "id": "night",
                    "kind": "level",
                    "metric": "laeq",
                    "align": "period",
                    "active": [{"from": "22:00", "to": "06:00"}],
                    "limit_db": 45,
                },
                {"id": "stuck", "kind": "health", "check": "clock_unsynced"},
            ]
        }
    )
    assert [r.lookback_s for r in rules.rules] == [3600.0, 32400.0, 32400.0, 3600.0]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            level(limit_db="loud"),
            'rules[0] (night-peak).limit_db: must be a number between 0 and 200, got "loud"',
        ),
        (
            level(tiers=[{"name": "limit", "limit_db": "loud"}]),
            "rules[0] (night-peak).tiers[0].limit_db: must be a number between 0 and 200, "
            'got "loud"',
        ),
        (
            level(limit_db=True),
            "rules[0] (night-peak).limit_db: must be a number between 0 and 200, got true",
        ),
        (
            level(limit_db=float("nan")),
            "rules[0] (night-peak).limit_db: must be a number between 0 and 200, got nan",
        ),
        (
            level(limt_db=70),
            'rules[0] (night-peak).limt_db: unknown key (did you mean "limit_db"?)',
        ),
        (level(limit_db=70, colour="red"), "rules[0] (night-peak).colour: unknown key"),
        (level(), "rules[0] (night-peak): needs exactly one of limit_db and tiers"),
        (
            level(limit_db=70, tiers=[{"name": "a", "limit_db": 60}]),
            "rules[0] (night-peak): needs exactly one of limit_db and tiers",
        ),
        (
            level(tiers=[{"name": "a", "limit_db": 60}, {"name": "b", "limit_db": 60}]),
            "rules[0] (night-peak).tiers[1].limit_db: tiers must ascend: 60 is not above 60",
        ),
        (
            level(tiers=[{"name": "a", "limit_db": 60}, {"name": "a", "limit_db": 65}]),
            'rules[0] (night-peak).tiers[1].name: "a" is used twice',
        ),
        (level(tiers=[]), "rules[0] (night-peak).tiers: must have at least 1 item"),
        (level(tiers=[{"limit_db": 60}]), "rules[0] (night-peak).tiers[0].name: is required"),
        (
            level(window_s=0, limit_db=70),
            "rules[0] (night-peak).window_s: must be a number between 1 and 57600, got 0",
        ),
        (
            level(window_s=57601, limit_db=70),
            "rules[0] (night-peak).window_s: must be a number between 1 and 57600, got 57601",
        ),
        (
            level(window_s=90, limit_db=70),
            "rules[0] (night-peak).window_s: must be whole minutes from 60 s on, got 90",
        ),
        (
            level(window_s=1.5, limit_db=70),
            "rules[0] (night-peak).window_s: must be a whole number of seconds, got 1.5",
        ),
        (
            level(window_s=25200, align="clock", limit_db=70),
            'rules[0] (night-peak).window_s: must divide 86400 for align = "clock", got 25200',
        ),
        (
            level(align="period", limit_db=70),
            'rules[0] (night-peak).align: align = "period" needs active windows',
        ),
        (
            level(
                align="period",
                window_s=3600,
                active=[{"from": "06:00", "to": "22:00"}],
                limit_db=55,
            ),
            'rules[0] (night-peak).window_s: for align = "period" it is the longest active window '
            "(57600 s); leave it out or give that, got 3600",
        ),
        (
            level(align="hourly", limit_db=70),
            'rules[0] (night-peak).align: must be one of "rolling" | "clock" | "period", '
            'got "hourly"',
        ),
        (
            level(
                metric="lafmax",
                limit_db=70,
                penalties=[{"from": "06:00", "to": "07:00", "add_db": 6}],
            ),
            'rules[0] (night-peak).penalties: only for metric "laeq", got "lafmax"',
        ),
        (
            level(limit_db=70, penalties=[{"from": "06:00", "to": "07:00"}]),
            "rules[0] (night-peak).penalties[0].add_db: is required",
        ),
        (
            level(limit_db=10, reference="ambient_laf90", align="clock", window_s=3600),
            'rules[0] (night-peak).reference: "ambient_laf90" needs metric laeq or lafmax, rolling',
        ),
        (
            level(metric="laf90", limit_db=10, reference="ambient_laf90"),
            'rules[0] (night-peak).reference: "ambient_laf90" needs metric laeq or lafmax, rolling',
        ),
        (
            level(limit_db=10, reference_window_s=600),
            'rules[0] (night-peak).reference_window_s: only with reference = "ambient_laf90"',
        ),
        (
            level(limit_db=70, min_coverage=0),
            "rules[0] (night-peak).min_coverage: must be a number above 0 and at most 1, got 0",
        ),
        (
            level(limit_db=70, hysteresis_db=-1),
            "rules[0] (night-peak).hysteresis_db: must be a number between 0 and 100, got -1",
        ),
        (
            level(limit_db=70, min_duration_s=-5),
            "rules[0] (night-peak).min_duration_s: must be a number between 0 and 604800, got -5",
        ),
        (
            level(limit_db=70, enabled="yes"),
            'rules[0] (night-peak).enabled: must be true or false, got "yes"',
        ),
        (
            level(limit_db=70, severity="fatal"),
            'rules[0] (night-peak).severity: must be one of "info" | "warning" | "critical", '
            'got "fatal"',
        ),
        (
            level(limit_db=70, name="two\nlines"),
            'rules[0] (night-peak).name: must not contain control characters, got "two\\nlines"',
        ),
        (level(limit_db=70, sites=[]), "rules[0] (night-peak).sites: must have at least 1 item"),
        (
            level(limit_db=70, sites="tower-a"),
            'rules[0] (night-peak).sites: must be a list, got "tower-a"',
        ),
        (
            level(limit_db=70, sites=["tower a"]),
            'rules[0] (night-peak).sites[0]: must be a site id, got "tower a"',
        ),
        (
            level(limit_db=70, sensors=["roof"]),
            'rules[0] (night-peak).sensors[0]: must be "site/sensor", got "roof"',
        ),
        (
            level(limit_db=70, sites=["tower-a"], sensors=["tower-b/roof"]),
            'rules[0] (night-peak).sensors[0]: "tower-b/roof" is on no site of sites',
        ),
        (
            level(limit_db=70, active=[{"from": "22:00"}]),
            'rules[0] (night-peak).active[0].to: is required ("HH:MM")',
        ),
        (
            level(limit_db=70, active=[{"from": "24:00", "to": "07:00"}]),
            'rules[0] (night-peak).active[0].from: must be a time "HH:MM" from 00:00 to 23:59, '
            'got "24:00"',
        ),
        (
            level(limit_db=70, active=[{"from": "22:00", "to": "7:00"}]),
            'rules[0] (night-peak).active[0].to: must be a time "HH:MM" from 00:00 to 24:00, '
            'got "7:00"',
        ),
        (
            level(limit_db=70, active=[{"days": ["monday"], "from": "22:00", "to": "07:00"}]),
            'rules[0] (night-peak).active[0].days[0]: must be one of mon … sun, got "monday"',
        ),
        (
            level(limit_db=70, active=[{"days": ["mon", "mon"], "from": "22:00", "to": "07:00"}]),
            'rules[0] (night-peak).active[0].days[1]: "mon" is listed twice',
        ),
        (
            level(limit_db=70, active=[{"form": "22:00", "to": "07:00"}]),
            'rules[0] (night-peak).active[0].form: unknown key (did you mean "from"?)',
        ),
        ({"kind": "level"}, "rules[0].id: is required"),
        (
            {"id": "Night Peak", "kind": "level"},
            "rules[0].id: must be lower case letters, digits, '_', '.', '-' (at most 64, starting "
            'with a letter or digit), got "Night Peak"',
        ),
        ({"id": "x"}, "rules[0] (x).kind: is required"),
        (
            {"id": "x", "kind": "levle"},
            'rules[0] (x).kind: must be one of "level" | "event" | "event_count" | "health" | '
            '"budget", got "levle"',
        ),
        (
            {"id": "x", "kind": "level", "window_s": 900, "limit_db": 70},
            "rules[0] (x).metric: is required",
        ),
        ({"id": "x", "kind": "event"}, "rules[0] (x).labels: is required"),
        (
            {"id": "x", "kind": "event", "labels": ["dog_bark"], "min_confidence": 2},
            "rules[0] (x).min_confidence: must be a number between 0 and 1, got 2",
        ),
        (
            {"id": "x", "kind": "event", "labels": ["dog_bark"], "window_s": 60},
            'rules[0] (x).window_s: not a key of kind "event"',
        ),
        (
            {"id": "x", "kind": "event_count", "labels": ["a"], "window_s": 60, "limit": 2.5},
            "rules[0] (x).limit: must be a whole number between 0 and 1000000, got 2.5",
        ),
        (
            {
                "id": "x",
                "kind": "event_count",
                "labels": ["a"],
                "window_s": 60,
                "align": "period",
                "limit": 2,
            },
            'rules[0] (x).align: must be one of "rolling" | "clock", got "period"',
        ),
        (
            {
                "id": "x",
                "kind": "event_count",
                "labels": ["a"],
                "window_s": 60,
                "tiers": [{"name": "limit", "limit_db": 2}],
            },
            'rules[0] (x).tiers[0].limit_db: unknown key (did you mean "limit"?)',
        ),
        (
            {"id": "x", "kind": "health", "check": "offline", "flat_db": 1},
            'rules[0] (x).flat_db: not a parameter of check "offline" (it takes after_s)',
        ),
        (
            {"id": "x", "kind": "health", "check": "degraded", "after_s": 60},
            'rules[0] (x).after_s: not a parameter of check "degraded" (it takes no parameters)',
        ),
        (
            {"id": "x", "kind": "health", "check": "asleep"},
            'rules[0] (x).check: must be one of "offline" | "stuck" | "noise_floor" | "clipping" | '
            '"outbox_growing" | "clock_unsynced" | "calibration_age" | "degraded", got "asleep"',
        ),
        (
            {"id": "x", "kind": "health", "check": "outbox_growing", "heartbeats": 1},
            "rules[0] (x).heartbeats: must be a whole number between 2 and 1000, got 1",
        ),
        (
            {"id": "x", "kind": "health", "check": "calibration_age", "missing_fires": 1},
            "rules[0] (x).missing_fires: must be true or false, got 1",
        ),
        (
            {"id": "x", "kind": "budget", "window_s": 3600, "limit_db": 65},
            'rules[0] (x).align: is required ("clock" or "period")',
        ),
        (
            {"id": "x", "kind": "budget", "window_s": 3600, "align": "clock"},
            "rules[0] (x).limit_db: is required",
        ),
        (
            {
                "id": "x",
                "kind": "budget",
                "window_s": 3600,
                "align": "clock",
                "limit_db": 65,
                "metric": "lafmax",
            },
            'rules[0] (x).metric: must be one of "laeq", got "lafmax"',
        ),
        (
            {"id": "x", "kind": "budget", "window_s": 30, "align": "clock", "limit_db": 65},
            "rules[0] (x).window_s: must be a number between 60 and 57600, got 30",
        ),
        (
            {
                "id": "x",
                "kind": "budget",
                "window_s": 3600,
                "align": "clock",
                "limit_db": 65,
                "basis_s": 90,
            },
            "rules[0] (x).basis_s: must be whole minutes, got 90",
        ),
        (
            {
                "id": "x",
                "kind": "budget",
                "window_s": 3600,
                "align": "clock",
                "limit_db": 65,
                "warn_within_s": 0,
            },
            "rules[0] (x).warn_within_s: must be a number above 0 and at most 86400, got 0",
        ),
        ("not a table", "rules[0]: must be a table, got str"),
    ],
)
def test_invalid_rules_are_refused_with_one_line(rule: Any, message: str) -> None:
    assert fails(rule) == message


def test_the_path_counts_the_rules_before() -> None:
    good = level(id="ok", limit_db=70)
    assert fails(level(limit_db=-1), good).startswith("rules[1] (night-peak).limit_db:")


def test_duplicate_ids_are_refused() -> None:
    message = fails(level(limit_db=70), level(limit_db=60), level(id="other", limit_db=50))
    assert message == "rules[2] (night-peak).id: duplicate id, also rules[0]"


def test_rule_set_shape_is_checked() -> None:
    assert parse_rules({}).rules == ()
    with pytest.raises(RuleError, match=r'^rules: must be a list, got "x"$'):
        parse_rules({"rules": "x"})
    with pytest.raises(RuleError, match=r'^rulez: unknown key \(did you mean "rules"\?\)$'):
        parse_rules({"rulez": []})
    with pytest.raises(RuleError, match=r"^the rule set: must be a table, got a list of 0 items$"):
        parse_rules([])  # type: ignore[arg-type]


def test_toml_syntax_errors_name_the_line() -> None:
    with pytest.raises(RuleError) as caught:
        load_rules_toml('[[rules]]\nid = "x"\nkind = level\n')
    message = str(caught.value)
    assert message.startswith("TOML syntax error: ")
    assert "line 3" in message
    assert "\n" not in message


def test_rule_errors_are_alert_errors() -> None:
    assert issubclass(RuleError, AlertError)
    assert not issubclass(RuleError, ValueError)


def test_parse_rule_takes_a_path_prefix() -> None:
    with pytest.raises(RuleError, match=r"^db:quiet \(x\)\.kind: is required$"):
        parse_rule({"id": "x"}, "db:quiet")


def test_input_is_not_modified() -> None:
    data = {"rules": [level(limit_db=70, active=[{"from": "22:00", "to": "07:00"}])]}
    before = copy.deepcopy(data)
    parse_rules(data)
    assert data == before
