"""The pure parts of the server's alert store: reconciling episodes with stored alerts, and the
restart point for late data."""

from __future__ import annotations

import math

from noisefleet_server.alerts.evaluate_sql import restart_point
from noisefleet_server.alerts.reconcile import EpisodeView, StoredAlert, reconcile

NOW = 10_000.0


def _episode(p: float, fired: float | None, resolved: float | None, tier: int = 0) -> EpisodeView:
    return EpisodeView(p, fired, resolved, resolved, tier, 70.0, p)


def _stored(
    i: int, state: str, p: float, fired: float | None, resolved: float | None, tier: int = 0
) -> StoredAlert:
    return StoredAlert(i, state, tier, p, fired, resolved)  # type: ignore[arg-type]


def test_new_alert_fired_and_resolved_notifies_both() -> None:
    [action] = reconcile([], [_episode(9000, 9060, 9500)], NOW, 300)
    assert action.kind == "insert"
    assert [c.event for c in action.changes] == ["firing", "resolved"]
    # both changes are older than 300 s at NOW: late
    assert all(c.late for c in action.changes)
    assert action.late


def test_live_changes_are_not_late() -> None:
    [action] = reconcile([], [_episode(9900, 9960, None)], NOW, 300)
    assert [(c.event, c.late) for c in action.changes] == [("firing", False)]


def test_open_alert_resolving_notifies_resolved_once() -> None:
    stored = [_stored(1, "firing", 9000, 9060, None)]
    [action] = reconcile(stored, [_episode(9000, 9060, 9950)], NOW, 300)
    assert action.kind == "update"
    assert action.alert_id == 1
    assert [c.event for c in action.changes] == ["resolved"]
    # evaluating the same again changes nothing and notifies nothing
    again = [_stored(1, "resolved", 9000, 9060, 9950)]
    assert reconcile(again, [_episode(9000, 9060, 9950)], NOW, 300) == []


def test_escalation_notifies() -> None:
    stored = [_stored(1, "firing", 9000, 9060, None, tier=0)]
    [action] = reconcile(stored, [_episode(9000, 9060, None, tier=1)], NOW, 300)
    assert [c.event for c in action.changes] == ["escalated"]


def test_pending_that_lapsed_is_deleted_and_vanished_alert_withdrawn() -> None:
    stored = [_stored(1, "pending", 9000, None, None), _stored(2, "firing", 9500, 9560, None)]
    actions = reconcile(stored, [], NOW, 300)
    assert sorted((a.kind, a.alert_id) for a in actions) == [("delete", 1), ("withdraw", 2)]
    withdraw = next(a for a in actions if a.kind == "withdraw")
    assert [c.event for c in withdraw.changes] == ["withdrawn"]


def test_shifted_start_matches_by_overlap() -> None:
    stored = [_stored(1, "firing", 9000, 9060, None)]
    [action] = reconcile(stored, [_episode(8940, 9000, None)], NOW, 300)
    assert action.kind == "update"
    assert action.alert_id == 1
    assert action.changes == ()


def test_restart_point_moves_before_alerts_and_cool_downs() -> None:
    # alert A pending 1000..resolved 2000 with a cool-down of 300: idle again after 2300
    windows = [(1000.0, 2000.0)]
    assert restart_point(2500, windows, 300, 60) == 2460.0
    assert restart_point(2200, windows, 300, 60) == 960.0  # inside the cool-down
    assert restart_point(1500, windows, 0, 60) == 960.0
    # an open alert reaches to infinity; a chain of alerts moves the point back through all
    assert restart_point(9000, [(5000.0, None)], 0, 60) == 4980.0
    chain = [(3000.0, 3500.0), (1000.0, 2900.0)]
    assert restart_point(3200, chain, 200, 60) == 960.0
    assert not math.isnan(restart_point(10, [], 0, 1))
