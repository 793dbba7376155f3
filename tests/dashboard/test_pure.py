"""The dashboard's pure rules: passwords, throttling, sessions, access, resolution, limits."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from noisefleet_dashboard import auth
from noisefleet_dashboard.access import SiteScope, User, may_admin, may_see, may_write, scope_of
from noisefleet_dashboard.access import visible as visible_sites
from noisefleet_dashboard.compliance import day_verdict, limit_at, period_at, sensor_state
from noisefleet_dashboard.errors import QueryError
from noisefleet_dashboard.resolution import SPANS, choose_resolution, points, window

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_hash_and_verify():
    hashed = auth.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert hashed != auth.hash_password("correct horse battery")  # salted
    assert auth.verify_password(hashed, "correct horse battery")
    assert not auth.verify_password(hashed, "correct horse batterz")
    assert not auth.verify_password("not a hash", "correct horse battery")
    assert not auth.needs_rehash(hashed)


def test_unknown_user_costs_a_verification_too():
    hashed = auth.hash_password("correct horse battery")
    auth.verify_password(None, "warm-up")  # the dummy hash is made once

    def cost(password_hash: str | None) -> float:
        began = time.perf_counter()
        for _ in range(5):
            assert not auth.verify_password(password_hash, "wrong password")
        return time.perf_counter() - began

    known, unknown = cost(hashed), cost(None)
    # argon2 dominates both; generous bounds for a shared machine (no real timing claim)
    assert unknown > known / 4
    assert known > unknown / 4


def test_password_strength():
    assert auth.check_password_strength("short") is not None
    assert auth.check_password_strength(" leading space ok?") is not None
    assert auth.check_password_strength("long enough pass") is None


def test_throttling_locks_after_max_failures_then_counts_afresh():
    state = auth.Throttle(0, None)
    for _ in range(2):
        state = auth.after_failure(state, NOW, max_failed=3, lock_s=600)
        assert not auth.is_locked(state, NOW)
    state = auth.after_failure(state, NOW, max_failed=3, lock_s=600)
    assert state == auth.Throttle(3, NOW + timedelta(seconds=600))
    assert auth.is_locked(state, NOW + timedelta(seconds=599))
    later = NOW + timedelta(seconds=600)
    assert not auth.is_locked(state, later)
    state = auth.after_failure(state, later, max_failed=3, lock_s=600)
    assert state == auth.Throttle(1, None)  # a lock that ran out starts a fresh count
    assert auth.after_success() == auth.Throttle(0, None)


def test_session_tokens_and_expiry():
    token = auth.new_token()
    assert len(token) >= 43
    assert token != auth.new_token()
    assert auth.token_hash(token) == auth.token_hash(token)
    assert len(auth.token_hash(token)) == 32
    expires = auth.session_expiry(NOW, 3600)
    assert auth.session_valid(expires, NOW + timedelta(seconds=3599))
    assert not auth.session_valid(expires, NOW + timedelta(seconds=3600))


def test_access_by_role():
    admin = User("a", "admin")
    olga = User("olga", "operator", frozenset({"tower"}))
    vera = User("vera", "viewer", frozenset({"tower"}))
    assert scope_of(admin) == SiteScope(all_sites=True)
    assert scope_of(olga) == SiteScope(all_sites=False, sites=("tower",))
    assert scope_of(vera).params() == {"all_sites": False, "sites": ["tower"]}
    assert may_see(admin, "depot")
    assert may_see(olga, "tower")
    assert not may_see(olga, "depot")
    assert may_write(olga, "tower")
    assert not may_write(olga, "depot")
    assert not may_write(vera, "tower")
    assert may_admin(admin)
    assert not may_admin(olga)
    assert visible_sites(vera, ["depot", "tower"]) == ["tower"]


@pytest.mark.parametrize(
    ("span", "label"),
    [
        (timedelta(minutes=30), "1 s"),
        (timedelta(seconds=2000), "1 s"),
        (timedelta(seconds=2001), "1 min"),
        (timedelta(hours=24), "1 min"),
        (timedelta(hours=34), "1 h"),
        (timedelta(days=30), "1 h"),
        (timedelta(days=84), "1 day"),
        (timedelta(days=3650), "1 day"),
    ],
)
def test_resolution_keeps_charts_under_the_point_limit(span: timedelta, label: str):
    resolution = choose_resolution(span, max_points=2000)
    assert resolution.label == label
    if label != "1 day":
        assert points(span, resolution) <= 2000


def test_every_span_preset_fits_and_bad_spans_are_refused():
    for span in SPANS.values():
        assert points(span, choose_resolution(span)) <= 2000
    with pytest.raises(QueryError):
        choose_resolution(timedelta(0))


def test_window_ends_at_the_local_day_or_now():
    start, end = window(date(2026, 11, 20), timedelta(days=1), "Europe/Berlin", NOW)
    assert end == datetime(2026, 11, 20, 23, 0, tzinfo=UTC)  # local midnight
    assert start == end - timedelta(days=1)
    assert window(NOW.date(), timedelta(hours=1), "UTC", NOW) == (NOW - timedelta(hours=1), NOW)


def test_periods_and_limits():
    limits = {"day": 55.0, "night": 45.0}
    assert period_at(datetime(2026, 1, 1, 7, 0)) == "day"
    assert period_at(datetime(2026, 1, 1, 19, 0)) == "evening"
    assert period_at(datetime(2026, 1, 1, 23, 0)) == "night"
    assert period_at(datetime(2026, 1, 1, 6, 59)) == "night"
    # 06:30 UTC is 07:30 in Berlin (winter): day
    assert limit_at(datetime(2026, 11, 24, 6, 30, tzinfo=UTC), limits, "Europe/Berlin") == 55.0
    assert limit_at(datetime(2026, 11, 24, 5, 30, tzinfo=UTC), limits, "Europe/Berlin") == 45.0
    assert limit_at(datetime(2026, 11, 24, 19, 30, tzinfo=UTC), limits, "UTC") is None


def test_day_verdicts():
    limits = {"day": 55.0, "evening": 50.0, "night": 45.0}
    quiet = {"day": 54.0, "evening": 50.0, "night": 44.9}
    assert day_verdict(quiet, limits, 1.0).verdict == "complies"  # at the limit complies
    loud = {**quiet, "night": 45.01}
    assert day_verdict(loud, limits, 0.5).exceeded == ("night",)
    assert day_verdict(quiet, limits, 0.5).verdict == "incomplete"
    assert day_verdict({**quiet, "evening": None}, limits, 1.0).verdict == "incomplete"
    assert day_verdict(quiet, {}, 1.0).verdict == "no limits"


def test_sensor_state():
    assert sensor_state("online", NOW - timedelta(seconds=10), NOW, 300) == "online"
    assert sensor_state("online", NOW - timedelta(seconds=301), NOW, 300) == "offline"
    assert sensor_state("offline", NOW, NOW, 300) == "offline"
    assert sensor_state(None, None, NOW, 300) == "never seen"
