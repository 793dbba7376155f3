"""Regulation templates: every template and parameter value expands to rules that validate, the
numbers of the sources come out where they belong, and mistakes are one-line errors."""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from importlib import resources
from typing import Any

import pytest

from noisefleet_core.alerts.errors import AlertError
from noisefleet_core.alerts.model import LevelRule, RuleSet
from noisefleet_core.alerts.rules import parse_rules
from noisefleet_core.alerts.templates import (
    TemplateError,
    TemplateInfo,
    expand_template,
    get_template,
    list_templates,
)

TEMPLATE_IDS = [info.id for info in list_templates()]
VERIFICATION_STATUSES = {"primary", "secondary", "unconfirmed"}


def _number_defaults(info: TemplateInfo) -> dict[str, float]:
    """A value for every number parameter: its default, else the middle of its range."""
    values: dict[str, float] = {}
    for parameter in info.parameters:
        if parameter.kind != "number":
            continue
        assert parameter.minimum is not None
        assert parameter.maximum is not None
        middle = (parameter.minimum + parameter.maximum) / 2
        values[parameter.name] = middle if parameter.default is None else float(parameter.default)
    return values


def _all_params(info: TemplateInfo) -> list[dict[str, str | float]]:
    """Every combination of choices, with the number parameters at their defaults."""
    choices = [parameter for parameter in info.parameters if parameter.kind == "choice"]
    combos = itertools.product(*(parameter.choices for parameter in choices))
    return [
        {**_number_defaults(info), **{p.name: v for p, v in zip(choices, combo, strict=True)}}
        for combo in combos
    ]


def _rules(template_id: str, **params: str | float) -> dict[str, LevelRule]:
    """Expanded and validated level rules by their short id (without the template prefix)."""
    rule_set = parse_rules({"rules": expand_template(template_id, params)})
    out: dict[str, LevelRule] = {}
    for rule in rule_set.rules:
        assert isinstance(rule, LevelRule)
        out[rule.id.removeprefix(f"{template_id}.")] = rule
    return out


def _limits(rule: LevelRule) -> list[float]:
    return [tier.limit for tier in rule.tiers]


def _windows(rule: LevelRule) -> list[dict[str, Any]]:
    return [window.to_dict() for window in rule.active]


def test_the_families_of_the_issue_are_shipped() -> None:
    assert set(TEMPLATE_IDS) >= {
        "who-2018",
        "who-1999-night",
        "eu-end",
        "ta-laerm",
        "avv-baulaerm",
        "bs5228-fixed",
        "bs5228-abc",
        "nyc-noise-code",
        "nl-activiteitenbesluit",
        "ch-lsv-annex6",
        "quiet-hours",
        "quiet-hours-staged",
    }
    assert sorted(TEMPLATE_IDS) == TEMPLATE_IDS


def test_template_files_are_package_data() -> None:
    folder = resources.files("noisefleet_core.alerts").joinpath("templates")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".toml"))
    assert names == sorted(f"{template_id}.toml" for template_id in TEMPLATE_IDS)


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_every_parameter_value_expands_to_valid_rules(template_id: str) -> None:
    info = get_template(template_id)
    for params in _all_params(info):
        rules = expand_template(template_id, params)
        assert rules, params
        rule_set = parse_rules({"rules": rules})
        assert isinstance(rule_set, RuleSet)
        assert all(rule.id.startswith(f"{template_id}.") for rule in rule_set.rules)
        assert all("{" not in rule.name for rule in rule_set.rules), params


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_every_template_says_where_its_numbers_come_from(template_id: str) -> None:
    info = get_template(template_id)
    for text in (info.title, info.source, info.url, info.assesses, info.jurisdiction):
        assert text.strip()
    assert info.monitor_checks.strip()
    assert info.monitor_cannot_check.strip()
    assert info.verified
    for verification in info.verified:
        assert verification.status in VERIFICATION_STATUSES
        assert verification.item
        assert verification.where
    for parameter in info.parameters:
        if parameter.default is not None:
            expand_template(
                template_id, {**_number_defaults(info), parameter.name: parameter.default}
            )


def test_number_parameters_accept_their_range_ends_and_numeric_text() -> None:
    for info in list_templates():
        for parameter in info.parameters:
            if parameter.kind != "number":
                continue
            assert parameter.minimum is not None
            assert parameter.maximum is not None
            base = {**_number_defaults(info), **_all_params(info)[0]}
            for value in (parameter.minimum, parameter.maximum, f"{parameter.minimum:g}"):
                parse_rules({"rules": expand_template(info.id, {**base, parameter.name: value})})


def test_ta_laerm_general_residential() -> None:
    rules = _rules("ta-laerm", area="general_residential")
    assert _limits(rules["day"]) == [55]
    assert rules["day"].align == "period"
    assert _windows(rules["day"]) == [
        {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "06:00", "to": "22:00"}
    ]
    penalties = [(p.window.to_dict(), p.add_db) for p in rules["day"].penalties]
    weekdays = ["mon", "tue", "wed", "thu", "fri", "sat"]
    assert penalties == [
        ({"days": weekdays, "from": "06:00", "to": "07:00"}, 6),
        ({"days": weekdays, "from": "20:00", "to": "22:00"}, 6),
        ({"days": ["sun"], "from": "06:00", "to": "09:00"}, 6),
        ({"days": ["sun"], "from": "13:00", "to": "15:00"}, 6),
        ({"days": ["sun"], "from": "20:00", "to": "22:00"}, 6),
    ]
    night = rules["night"]
    assert (_limits(night), night.align, night.window_s, night.metric) == (
        [40],
        "clock",
        3600,
        "laeq",
    )
    assert _windows(night)[0]["from"] == "22:00"
    assert _windows(night)[0]["to"] == "06:00"
    assert (rules["night-peak"].metric, _limits(rules["night-peak"])) == ("lafmax", [60])
    assert _limits(rules["day-peak"]) == [85]


def test_ta_laerm_sensitivity_periods_only_in_residential_and_spa_areas() -> None:
    with_penalties = {
        area
        for area in get_template("ta-laerm").parameters[0].choices
        if _rules("ta-laerm", area=area)["day"].penalties
    }
    assert with_penalties == {"general_residential", "purely_residential", "spa_hospital"}


@pytest.mark.parametrize(
    ("area", "day", "night"),
    [
        ("industrial", 70, 70),
        ("commercial", 65, 50),
        ("urban", 63, 45),
        ("mixed", 60, 45),
        ("general_residential", 55, 40),
        ("purely_residential", 50, 35),
        ("spa_hospital", 45, 35),
    ],
)
def test_ta_laerm_area_values_and_peak_margins(area: str, day: float, night: float) -> None:
    rules = _rules("ta-laerm", area=area)
    assert (_limits(rules["day"]), _limits(rules["night"])) == ([day], [night])
    assert (_limits(rules["day-peak"]), _limits(rules["night-peak"])) == ([day + 30], [night + 20])


def test_ta_laerm_surcharge_lowers_the_rating_limits_not_the_peaks() -> None:
    rules = _rules("ta-laerm", area="mixed", surcharge_db=3)
    assert (_limits(rules["day"]), _limits(rules["night"])) == ([57], [42])
    assert _limits(rules["night-peak"]) == [65]


def test_avv_baulaerm_two_tiers_day_07_20_night_20_07() -> None:
    rules = _rules("avv-baulaerm", area="general_residential")
    assert [tier.name for tier in rules["day"].tiers] == ["limit", "intervention"]
    assert _limits(rules["day"]) == [55, 60]
    assert _limits(rules["night"]) == [40, 45]
    assert (_windows(rules["day"])[0]["from"], _windows(rules["day"])[0]["to"]) == (
        "07:00",
        "20:00",
    )
    assert (_windows(rules["night"])[0]["from"], _windows(rules["night"])[0]["to"]) == (
        "20:00",
        "07:00",
    )
    # regulations.md: residential, day Lr 61 > 60 → intervention (the second tier).
    assert [tier.name for tier in rules["day"].tiers if tier.limit < 61][-1] == "intervention"


@pytest.mark.parametrize(
    ("zone", "day", "night"),
    [
        ("I", [50, 55, 65], [40, 45, 60]),
        ("II", [55, 60, 70], [45, 50, 65]),
        ("III", [60, 65, 70], [50, 55, 65]),
        ("IV", [65, 70, 75], [55, 60, 70]),
    ],
)
def test_lsv_three_tiers(zone: str, day: list[float], night: list[float]) -> None:
    rules = _rules("ch-lsv-annex6", zone=zone)
    assert [tier.name for tier in rules["day"].tiers] == ["warning", "limit", "alarm"]
    assert (_limits(rules["day"]), _limits(rules["night"])) == (day, night)


def test_nyc_margins_are_relative_to_the_ambient() -> None:
    rules = _rules("nyc-noise-code")
    steady, impulsive = rules["above-ambient"], rules["impulsive-above-ambient"]
    assert (steady.metric, steady.reference, _limits(steady)) == ("laeq", "ambient_laf90", [9.995])
    assert (impulsive.metric, impulsive.reference, _limits(impulsive)) == (
        "lafmax",
        "ambient_laf90",
        [14.995],
    )
    assert steady.reference_window_s == 3600
    # regulations.md: ambient 60, source 70 → violation; impulsive 74 vs ambient 60 → none.
    assert 60 + _limits(steady)[0] <= 70
    assert not 60 + _limits(impulsive)[0] <= 74
    assert (
        _rules("nyc-noise-code", ambient_window_s=1200)["above-ambient"].reference_window_s == 1200
    )


def test_who_2018_per_source() -> None:
    road = _rules("who-2018", source="road")
    assert set(road) == {"lden", "lnight"}
    assert (_limits(road["lden"]), _limits(road["lnight"])) == ([53], [45])
    assert [
        (p.window.to_dict()["from"], p.window.to_dict()["to"], p.add_db)
        for p in road["lden"].penalties
    ] == [
        ("19:00", "23:00", 5),
        ("23:00", "07:00", 10),
    ]
    assert all(rule.severity == "info" for rule in road.values())
    assert _limits(_rules("who-2018", source="rail")["lnight"]) == [44]
    aircraft = _rules("who-2018", source="aircraft")
    assert (_limits(aircraft["lden"]), _limits(aircraft["lnight"])) == ([45], [40])
    assert set(_rules("who-2018", source="wind")) == {"lden"}
    leisure = _rules("who-2018", source="leisure")
    assert set(leisure) == {"laeq24"}
    assert _limits(leisure["laeq24"]) == [70]
    assert not leisure["laeq24"].penalties


def test_who_1999_night() -> None:
    rules = _rules("who-1999-night")
    assert (_limits(rules["night-laeq"]), _limits(rules["night-lafmax"])) == ([45], [60])
    assert rules["night-lafmax"].metric == "lafmax"


def test_eu_end_reporting_bands_and_periods() -> None:
    rules = _rules("eu-end")
    assert _limits(rules["lden"]) == [55, 60, 65, 70, 75]
    assert _limits(rules["lnight"]) == [50, 55, 60, 65, 70]
    assert all(rule.severity == "info" for rule in rules.values())
    germany = _rules("eu-end", periods="06-18-22")
    assert [(p.window.to_dict()["from"], p.add_db) for p in germany["lden"].penalties] == [
        ("18:00", 5),
        ("22:00", 10),
    ]
    assert _windows(germany["lnight"])[0]["from"] == "22:00"


def test_lden_weights_match_the_directive() -> None:
    """The penalties reproduce the Annex I formula: Ld/Le/Ln 60/55/50 → 60.0, flat 60 → 66.4."""
    penalties = {p.window.to_dict()["from"]: p.add_db for p in _rules("eu-end")["lden"].penalties}

    def lden(day: float, evening: float, night: float) -> float:
        energy = 12 * 10 ** (day / 10)
        energy += 4 * 10 ** ((evening + penalties["19:00"]) / 10)
        energy += 8 * 10 ** ((night + penalties["23:00"]) / 10)
        return 10 * math.log10(energy / 24)

    assert lden(60, 55, 50) == pytest.approx(60.0, abs=0.05)
    assert lden(60, 60, 60) == pytest.approx(66.4, abs=0.05)
    assert lden(65, 60, 55) == pytest.approx(65.0, abs=0.05)


@pytest.mark.parametrize(
    ("ambient_day", "ambient_evening", "ambient_night", "limits"),
    [
        (62, 50, 43, (65, 55, 50)),  # regulations.md: day 62 → A → 65; night 43 → 45 → B → 50
        (66, 55, 38, (70, 60, 45)),  # day 66 → 65 → B → 70
        (72, 62, 52, (75, 65, 55)),  # above A → C
        (78, 70, 60, (81, 73, 63)),  # above C: ambient + 3 dB
        (62.5, 47.4, 42.5, (70, 55, 50)),  # rounded half up: 62.5 → 65
    ],
)
def test_bs5228_abc_categories(
    ambient_day: float, ambient_evening: float, ambient_night: float, limits: tuple[float, ...]
) -> None:
    rules = _rules(
        "bs5228-abc",
        ambient_day_db=ambient_day,
        ambient_evening_db=ambient_evening,
        ambient_night_db=ambient_night,
    )
    got = (
        _limits(rules["day"])[0],
        _limits(rules["evening-weekend"])[0],
        _limits(rules["night"])[0],
    )
    assert got == pytest.approx(limits)


def test_bs5228_abc_periods() -> None:
    rules = _rules("bs5228-abc", ambient_day_db=60, ambient_evening_db=50, ambient_night_db=40)
    assert _windows(rules["day"]) == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:00", "to": "19:00"},
        {"days": ["sat"], "from": "07:00", "to": "13:00"},
    ]
    assert [w["days"] for w in _windows(rules["evening-weekend"])] == [
        ["mon", "tue", "wed", "thu", "fri"],
        ["sat"],
        ["sun"],
    ]
    assert "category A" in rules["day"].name


def test_bs5228_fixed() -> None:
    assert _limits(_rules("bs5228-fixed", area="away_from_main_roads")["day"]) == [70]
    assert _limits(_rules("bs5228-fixed", area="near_main_roads")["day"]) == [75]


def test_activiteitenbesluit_facade() -> None:
    rules = _rules("nl-activiteitenbesluit")
    assert [_limits(rules[key])[0] for key in ("day", "evening", "night")] == [50, 45, 40]
    assert [_limits(rules[key])[0] for key in ("max-day", "max-evening", "max-night")] == [
        70,
        65,
        60,
    ]
    assert all(rules[key].metric == "lafmax" for key in ("max-day", "max-evening", "max-night"))


def test_quiet_hours_presets() -> None:
    rules = _rules("quiet-hours")
    quiet = rules["quiet"]
    assert (_limits(quiet), quiet.window_s, quiet.min_duration_s) == ([70], 60, 600)
    assert (_windows(quiet)[0]["from"], _windows(quiet)[0]["to"]) == ("22:00", "07:00")
    assert (rules["quiet-escalated"].min_duration_s, rules["quiet-escalated"].severity) == (
        1800,
        "critical",
    )
    assert (_limits(rules["day"]), _windows(rules["day"])[0]["from"]) == ([75], "07:00")
    staged = _rules("quiet-hours-staged")
    assert [(_limits(r)[0], r.min_duration_s) for r in staged.values()] == [
        (68, 600),
        (68, 900),
        (68, 1800),
    ]
    custom = _rules("quiet-hours", quiet_hours="23-07", quiet_limit_db=65)
    assert (_limits(custom["quiet"]), _windows(custom["quiet"])[0]["from"]) == ([65], "23:00")


def test_sites_sensors_and_id_prefix() -> None:
    rules = expand_template(
        "ta-laerm",
        {"area": "mixed"},
        sites=["tower-a"],
        sensors=["tower-a/roof"],
        id_prefix="tower-a.tal",
    )
    assert [rule["id"] for rule in rules] == [
        "tower-a.tal.day",
        "tower-a.tal.night",
        "tower-a.tal.day-peak",
        "tower-a.tal.night-peak",
    ]
    rule_set = parse_rules({"rules": rules})
    assert all(rule.sites == frozenset({"tower-a"}) for rule in rule_set.rules)
    assert all(rule.sensors == frozenset({"tower-a/roof"}) for rule in rule_set.rules)


def test_expansion_does_not_share_state_between_calls() -> None:
    first = expand_template("ta-laerm", {"area": "general_residential"})
    first[0]["penalties"][0]["add_db"] = 99
    again = expand_template("ta-laerm", {"area": "general_residential"})
    assert again[0]["penalties"][0]["add_db"] == 6


@pytest.mark.parametrize(
    ("template_id", "params", "message"),
    [
        ("ta-lärm", {}, "unknown template 'ta-lärm'; templates: avv-baulaerm,"),
        ("ta-laerm", {"aera": "mixed"}, "unknown parameter 'aera'; parameters: area, surcharge_db"),
        (
            "ta-laerm",
            {"area": "downtown"},
            "parameter area: must be one of industrial, commercial, urban, mixed,",
        ),
        (
            "who-2018",
            {},
            "parameter source is required (one of road, rail, aircraft, wind, leisure)",
        ),
        ("ta-laerm", {"surcharge_db": 20}, "must be a number from 0 to 12 dB, got 20"),
        ("ta-laerm", {"surcharge_db": "loud"}, "must be a number from 0 to 12 dB, got 'loud'"),
        ("ta-laerm", {"surcharge_db": True}, "must be a number from 0 to 12 dB, got True"),
        ("bs5228-abc", {"ambient_day_db": 60}, "parameter ambient_evening_db is required"),
        ("who-1999-night", {"source": "road"}, "unknown parameter 'source'; parameters: none"),
    ],
)
def test_mistakes_are_one_line_errors(
    template_id: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        expand_template(template_id, params)
    text = str(caught.value)
    assert "\n" not in text
    assert message in text
    assert isinstance(caught.value, AlertError)


def _doc_blocks(language: str) -> list[str]:
    from pathlib import Path

    text = (Path(__file__).parents[3] / "docs" / "alerts.md").read_text(encoding="utf-8")
    section = text.split("## Regulation templates", 1)[1]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def test_the_documented_expansion_is_what_the_template_gives() -> None:
    documented = tomllib.loads(_doc_blocks("toml")[0])["rules"]
    expanded = expand_template("ta-laerm", {"area": "general_residential"}, sites=["tower-a"])
    assert documented == expanded[: len(documented)]


def test_the_documented_python_example_runs() -> None:
    namespace: dict[str, Any] = {}
    exec(_doc_blocks("python")[0], namespace)
    assert isinstance(namespace["rule_set"], RuleSet)
