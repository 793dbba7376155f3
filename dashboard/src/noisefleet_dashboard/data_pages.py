"""The Streamlit adapter of the Events and Alerts pages: cached reads (keyed like ``data``'s:
database, ``SiteScope``, parameters), the rule preview cached briefly, and the writes (never
cached; the caches of the alert list are cleared after one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import streamlit as st

from noisefleet_core.alerts.rules import RuleSet, load_rules_toml
from noisefleet_dashboard import alert_queries, event_queries, queries
from noisefleet_dashboard.access import SiteScope, User
from noisefleet_dashboard.alert_queries import AlertFilter, AlertRow, PreviewAlert
from noisefleet_dashboard.config import DashboardConfig
from noisefleet_dashboard.data import _Db, _db
from noisefleet_dashboard.event_queries import EventFilter, EventRow, HourCount, LabelBucket
from noisefleet_dashboard.resolution import RESOLUTIONS
from noisefleet_server.alerts.rules_source import file_rules

PREVIEW_TTL_S = 120
EVENT_ROWS = 1000
"""At most this many events in the table (the newest)."""


def _labels(db: _Db, scope: SiteScope, site: str) -> list[str]:
    with db.connection() as conn:
        return event_queries.labels(conn, scope, site)


def _events(db: _Db, scope: SiteScope, f: EventFilter) -> tuple[int, list[EventRow]]:
    with db.connection() as conn:
        return event_queries.count(conn, scope, f), event_queries.events(conn, scope, f, EVENT_ROWS)


def _timeline(db: _Db, scope: SiteScope, f: EventFilter, bucket_s: int) -> list[LabelBucket]:
    with db.connection() as conn:
        return event_queries.timeline(conn, scope, f, bucket_s)


def _hours(db: _Db, scope: SiteScope, f: EventFilter, timezone: str) -> list[HourCount]:
    with db.connection() as conn:
        return event_queries.hours_of_day(conn, scope, f, timezone)


def _seconds(
    db: _Db, scope: SiteScope, site: str, sensor: str, start: datetime, end: datetime
) -> list[queries.LevelPoint]:
    with db.connection() as conn:
        return queries.levels(conn, scope, site, sensor, start, end, RESOLUTIONS[0])


def _alerts(db: _Db, scope: SiteScope, f: AlertFilter) -> list[AlertRow]:
    with db.connection() as conn:
        return alert_queries.alerts(conn, scope, f)


def _rule_ids(db: _Db, scope: SiteScope) -> list[str]:
    with db.connection() as conn:
        return alert_queries.alert_rule_ids(conn, scope)


def _preview(
    db: _Db, scope: SiteScope, draft_text: str, start: datetime, end: datetime
) -> list[PreviewAlert]:
    rules = load_rules_toml(draft_text).rules
    return alert_queries.preview(db.url, scope, rules, start, end)


@dataclass(frozen=True)
class _Cached:
    labels: Any
    events: Any
    timeline: Any
    hours: Any
    seconds: Any
    alerts: Any
    rule_ids: Any
    preview: Any


@st.cache_resource(show_spinner=False)
def _cached(ttl_s: int) -> _Cached:
    wrap = st.cache_data(ttl=ttl_s, show_spinner=False, max_entries=1000)
    return _Cached(
        labels=wrap(_labels),
        events=wrap(_events),
        timeline=wrap(_timeline),
        hours=wrap(_hours),
        seconds=wrap(_seconds),
        alerts=wrap(_alerts),
        rule_ids=wrap(_rule_ids),
        preview=st.cache_data(ttl=min(ttl_s, PREVIEW_TTL_S), show_spinner=False, max_entries=50)(
            _preview
        ),
    )


class PagesData:
    """The Events and Alerts pages' data for one run, bound to the config and the user's scope
    (typed wrappers over the cached functions)."""

    def __init__(self, cfg: DashboardConfig, scope: SiteScope) -> None:
        self.cfg = cfg
        self.scope = scope
        self._db = _db(cfg)
        self._c = _cached(cfg.dashboard.cache_ttl_s)

    def labels(self, site: str) -> list[str]:
        result: list[str] = self._c.labels(self._db, self.scope, site)
        return result

    def events(self, f: EventFilter) -> tuple[int, list[EventRow]]:
        result: tuple[int, list[EventRow]] = self._c.events(self._db, self.scope, f)
        return result

    def timeline(self, f: EventFilter, bucket_s: int) -> list[LabelBucket]:
        result: list[LabelBucket] = self._c.timeline(self._db, self.scope, f, bucket_s)
        return result

    def hours(self, f: EventFilter, timezone: str) -> list[HourCount]:
        result: list[HourCount] = self._c.hours(self._db, self.scope, f, timezone)
        return result

    def seconds(
        self, site: str, sensor: str, start: datetime, end: datetime
    ) -> list[queries.LevelPoint]:
        result: list[queries.LevelPoint]
        result = self._c.seconds(self._db, self.scope, site, sensor, start, end)
        return result

    def alerts(self, f: AlertFilter) -> list[AlertRow]:
        result: list[AlertRow] = self._c.alerts(self._db, self.scope, f)
        return result

    def rule_ids(self) -> list[str]:
        result: list[str] = self._c.rule_ids(self._db, self.scope)
        return result

    def preview(self, draft_text: str, start: datetime, end: datetime) -> list[PreviewAlert]:
        result: list[PreviewAlert] = self._c.preview(self._db, self.scope, draft_text, start, end)
        return result

    # -- not cached: the rules in force and the writes --

    def file_rules(self) -> RuleSet:
        return file_rules(self.cfg.dashboard.rules_file)

    def db_rules(self) -> dict[str, dict[str, Any]]:
        with self._db.connection() as conn:
            return alert_queries.db_rules(conn)

    def acknowledge(self, user: User, alert_id: int, comment: str) -> None:
        with self._db.connection() as conn:
            alert_queries.acknowledge(conn, self._db.url, user, alert_id, comment)
        self._c.alerts.clear()

    def save_rules(self, user: User, bodies: list[dict[str, Any]]) -> None:
        alert_queries.save_rules(self._db.url, user, bodies)
