"""One-line alert messages in the site's local time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from noisefleet_core.alerts.describe import describe
from noisefleet_core.alerts.rules import Rule, parse_rule

BERLIN = "Europe/Berlin"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def rule(**body: Any) -> Rule:
    return parse_rule({"id": "r", **body})


QUIET = rule(
    kind="level",
    metric="laeq",
    window_s=900,
    limit_db=70,
    active=[{"from": "22:00", "to": "07:00"}],
)
# 23:41, 23:55, 23:56 and 00:12 CEST on the night of 1 June 2026.
T2341, T2355, T2356, T0012 = (
    utc(2026, 6, 1, 21, 41),
    utc(2026, 6, 1, 21, 55),
    utc(2026, 6, 1, 21, 56),
    utc(2026, 6, 1, 22, 12),
)


def test_level_firing_and_resolved() -> None:
    firing = describe(
        QUIET, "firing", 71.3, "limit", T2356, "tower-a", "roof", BERLIN, pending_since=T2341
    )
    assert firing == (
        "tower-a/roof: LAeq,15min 71.3 dB(A) above the limit 70 dB (active 22:00–07:00) since 23:41"
    )
    resolved = describe(
        QUIET,
        "resolved",
        None,
        "limit",
        T0012,
        "tower-a",
        "roof",
        BERLIN,
        peak=74.0,
        peak_at=T2355,
        pending_since=T2341,
    )
    assert resolved == (
        "tower-a/roof: LAeq,15min above the limit 70 dB (active 22:00–07:00) since 23:41, "
        "resolved at 00:12 (peak 74.0 dB at 23:55)"
    )


def test_tiers_units_and_other_transitions() -> None:
    peaks = rule(
        kind="level",
        metric="lcpeak",
        window_s=1,
        align="clock",
        tiers=[{"name": "warning", "limit_db": 130}, {"name": "alarm", "limit_db": 137}],
    )
    text = describe(
        peaks, "escalated", 138.25, "alarm", T2356, "s", "mic", BERLIN, pending_since=T2341
    )
    assert (
        text == "s/mic: LCpeak,1s 138.2 dB(C) above the alarm limit 137 dB since 23:41, "
        "escalated at 23:56"
    )
    slow = rule(kind="level", metric="laeq", window_s=3600, limit_db=55, min_duration_s=600)
    assert describe(slow, "pending", 56.0, None, T2341, "s", "mic", BERLIN).endswith(
        "LAeq,1h 56.0 dB(A) above the limit 55 dB since 23:41 (pending: fires after 10 min)"
    )
    assert describe(
        slow, "lapsed", 54.0, None, T2356, "s", "mic", BERLIN, pending_since=T2341
    ).endswith("since 23:41, lapsed at 23:56 before 10 min")
    assert describe(slow, "suppressed", 56.0, None, T2341, "s", "mic", BERLIN).endswith(
        "(suppressed: in the cooldown after the last alert)"
    )


def test_long_alerts_carry_dates() -> None:
    text = describe(
        QUIET, "resolved", None, "limit", T2341 + 2 * 86400, "s", "mic", BERLIN, pending_since=T2341
    )
    assert "since 2026-06-01 23:41, resolved at 23:41" in text


def test_budget_messages() -> None:
    budget = rule(kind="budget", window_s=3600, align="clock", limit_db=65)
    assert describe(
        budget, "firing", 700, "limit", T2356, "tower-a", "roof", BERLIN, level_db=68.2
    ) == (
        "tower-a/roof: at the current level (68.2 dB) the 1-h LAeq limit 65 dB is reached in 12 min"
    )
    assert describe(budget, "firing", 0, "limit", T2356, "t", "r", BERLIN).endswith(
        "at the current level the 1-h LAeq limit 65 dB is certain to be exceeded"
    )
    assert describe(
        budget, "resolved", None, "limit", T0012, "t", "r", BERLIN, pending_since=T2341
    ) == (
        "t/r: budget warning: the 1-h LAeq limit 65 dB within 30 min since 23:41, resolved at 00:12"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"check": "offline"}, "t/r: sensor offline: no heartbeat for 6 min"),
        ({"check": "stuck"}, "t/r: levels stuck (LAF10 − LAF90 below 0.2 dB) since 23:55"),
        (
            {"check": "clipping", "max_clipped": 5},
            "t/r: clipping (more than 5 clipped samples a minute) since 23:55",
        ),
        (
            {"check": "calibration_age"},
            "t/r: calibration older than 365 days or missing since 23:55",
        ),
        (
            {
                "check": "degraded",
                "active": [{"days": ["mon", "tue", "wed", "fri"], "from": "08:00", "to": "18:00"}],
            },
            "t/r: sensor degraded (active mon–wed,fri 08:00–18:00) since 23:55",
        ),
    ],
)
def test_health_messages(body: dict[str, Any], message: str) -> None:
    health = rule(kind="health", **body)
    assert (
        describe(health, "firing", 1.0, "limit", T2356, "t", "r", BERLIN, pending_since=T2355)
        == message
    )


def test_event_messages() -> None:
    count = rule(
        kind="event_count",
        labels=["siren", "dog_bark"],
        window_s=3600,
        tiers=[{"name": "limit", "limit": 3}, {"name": "alarm", "limit": 10}],
    )
    assert (
        describe(count, "firing", 4, "limit", T2356, "t", "r", BERLIN, pending_since=T2341)
        == "t/r: 4 events (dog_bark, siren) in 1h, more than the limit 3 since 23:41"
    )
    event = rule(kind="event", labels=["siren"])
    assert describe(
        event,
        "resolved",
        0.0,
        None,
        T0012,
        "t",
        "r",
        BERLIN,
        peak=91.0,
        peak_at=T2355,
        pending_since=T2341,
    ) == ("t/r: sound event (siren) since 23:41, resolved at 00:12 (peak 91.0 dB at 23:55)")


def test_relative_limits_read_as_excess_over_the_ambient() -> None:
    ambient = rule(
        kind="level", metric="laeq", window_s=900, limit_db=10, reference="ambient_laf90"
    )
    assert describe(ambient, "firing", 12.4, None, T2356, "t", "r", BERLIN) == (
        "t/r: LAeq,15min 12.4 dB above the ambient LAF90 by more than 10 dB since 23:56"
    )


def test_messages_are_one_line_even_for_odd_names() -> None:
    text = describe(QUIET, "firing", float("nan"), "nope", T2356, "t", "r", BERLIN)
    assert "\n" not in text
    assert text == "t/r: LAeq,15min above the limit 70 dB (active 22:00–07:00) since 23:56"
