"""Stored alerts versus freshly evaluated episodes: what to write, and what to notify (pure).

The evaluator re-derives the episodes of a (rule, sensor) from a start point (resuming from the
stored state, or restarting idle before late data). ``reconcile`` compares them with the alerts
stored since that point and returns actions:
1. match each episode to a stored alert: the same ``pending_since`` first, else the first
   unmatched stored alert overlapping it in time;
2. a matched pair yields an update and the notifications of its state changes (pending →
   firing: ``firing``; a higher tier: ``escalated``; → resolved: ``resolved``; a resolved alert
   that late data extends again: ``firing``);
3. an unmatched episode is inserted (notified ``firing``, and ``resolved`` if it already ended);
4. an unmatched stored alert: a pending one is deleted (it was never notified), a firing or
   resolved one is withdrawn (notified ``withdrawn``): later data showed it never held.
Every notification carries the time of its change; one older than ``late_after_s`` at ``now``
is marked late (data replayed after an outage), and so is its alert.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

AlertState = Literal["pending", "firing", "resolved"]
NotifyEvent = Literal["firing", "escalated", "resolved", "withdrawn"]


@dataclass(frozen=True)
class StoredAlert:
    alert_id: int
    state: AlertState
    tier: int
    pending_since: float
    fired_at: float | None
    resolved_at: float | None
    late: bool = False
    suppressed: int = 0


@dataclass(frozen=True)
class EpisodeView:
    """The fields of a core ``Episode`` that the store keeps (times in epoch seconds)."""

    pending_since: float
    fired_at: float | None
    ended_at: float | None
    resolved_at: float | None
    tier: int
    peak: float | None
    peak_at: float | None
    suppressed: int = 0

    @property
    def state(self) -> AlertState:
        if self.fired_at is None:
            return "pending"
        return "resolved" if self.resolved_at is not None else "firing"


@dataclass(frozen=True)
class Change:
    event: NotifyEvent
    at: float
    late: bool


@dataclass(frozen=True)
class Action:
    kind: Literal["insert", "update", "delete", "withdraw"]
    episode: EpisodeView | None
    alert_id: int | None
    changes: tuple[Change, ...] = ()
    late: bool = False
    """The alert's late flag after this action."""


@dataclass
class _Builder:
    now: float
    late_after_s: float
    changes: list[Change] = field(default_factory=list)

    def add(self, event: NotifyEvent, at: float) -> None:
        self.changes.append(Change(event, at, at < self.now - self.late_after_s))


def _end(t: float | None) -> float:
    return math.inf if t is None else t


def _overlaps(a: StoredAlert, e: EpisodeView) -> bool:
    return a.pending_since <= _end(e.resolved_at) and e.pending_since <= _end(a.resolved_at)


def _match(
    stored: Sequence[StoredAlert], episodes: Sequence[EpisodeView]
) -> tuple[list[tuple[EpisodeView, StoredAlert | None]], list[StoredAlert]]:
    free = sorted(stored, key=lambda a: a.pending_since)
    by_start = {a.pending_since: a for a in free}
    pairs: list[tuple[EpisodeView, StoredAlert | None]] = []
    taken: set[int] = set()
    for e in sorted(episodes, key=lambda e: e.pending_since):
        same = by_start.get(e.pending_since)
        if same is not None and same.alert_id not in taken:
            taken.add(same.alert_id)
            pairs.append((e, same))
            continue
        other = next((a for a in free if a.alert_id not in taken and _overlaps(a, e)), None)
        if other is not None:
            taken.add(other.alert_id)
        pairs.append((e, other))
    return pairs, [a for a in free if a.alert_id not in taken]


def reconcile(
    stored: Sequence[StoredAlert],
    episodes: Sequence[EpisodeView],
    now: float,
    late_after_s: float,
) -> list[Action]:
    """The actions that make the store match ``episodes`` (see the module docstring)."""
    actions: list[Action] = []
    pairs, unmatched = _match(stored, episodes)
    for e, a in pairs:
        b = _Builder(now, late_after_s)
        new = e.state
        if a is None:
            if new == "pending":
                actions.append(Action("insert", e, None))
                continue
            assert e.fired_at is not None
            b.add("firing", e.fired_at)
            if e.resolved_at is not None:
                b.add("resolved", e.resolved_at)
            late = any(c.late for c in b.changes)
            actions.append(Action("insert", e, None, tuple(b.changes), late))
            continue
        if new != "pending":
            assert e.fired_at is not None
            if a.state == "pending" or (a.state == "resolved" and new == "firing"):
                b.add("firing", e.fired_at)
            elif e.tier > a.tier:
                b.add("escalated", now)
            if new == "resolved" and a.state != "resolved":
                assert e.resolved_at is not None
                b.add("resolved", e.resolved_at)
        unchanged = (
            new == a.state
            and e.tier == a.tier
            and e.fired_at == a.fired_at
            and e.resolved_at == a.resolved_at
            and e.suppressed == a.suppressed
            and not b.changes
        )
        if unchanged and e.pending_since == a.pending_since and new != "firing":
            continue
        late = a.late or any(c.late for c in b.changes)
        actions.append(Action("update", e, a.alert_id, tuple(b.changes), late))
    for a in unmatched:
        if a.state == "pending":
            actions.append(Action("delete", None, a.alert_id))
        else:
            b = _Builder(now, late_after_s)
            b.add("withdrawn", now)
            actions.append(Action("withdraw", None, a.alert_id, tuple(b.changes), a.late))
    return actions
