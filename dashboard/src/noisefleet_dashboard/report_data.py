"""Cached queries of the Complaint check and Reports pages (the Streamlit adapter, like
``data``): keyed by the database, the user's ``SiteScope`` and the parameters, never shared
between different access rights. Exports are not cached (one download, possibly large)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import streamlit as st

from noisefleet_dashboard import queries, report_queries
from noisefleet_dashboard.access import SiteScope
from noisefleet_dashboard.config import DashboardConfig
from noisefleet_dashboard.data import _Db, _db
from noisefleet_dashboard.report_queries import AlertRow, EventRow, SensorCalibration, Table
from noisefleet_dashboard.resolution import Resolution


def _window(
    db: _Db, scope: SiteScope, site: str, start: datetime, end: datetime
) -> tuple[list[EventRow], list[AlertRow]]:
    with db.connection() as conn:
        return (
            report_queries.events_between(conn, scope, site, start, end),
            report_queries.alerts_between(conn, scope, site, start, end),
        )


def _levels(
    db: _Db, scope: SiteScope, site: str, sensor: str, start: datetime, end: datetime, r: Resolution
) -> list[queries.LevelPoint]:
    with db.connection() as conn:
        return queries.levels(conn, scope, site, sensor, start, end, r)


def _report(
    db: _Db, scope: SiteScope, site: str, first: date, last: date, start: datetime, end: datetime
) -> tuple[dict[str, list[queries.LdenDay]], list[AlertRow], list[SensorCalibration]]:
    with db.connection() as conn:
        sensors = report_queries.calibrations(conn, scope, site)
        days = {
            s.sensor: queries.lden_days(conn, scope, site, s.sensor, first, last) for s in sensors
        }
        return days, report_queries.alerts_between(conn, scope, site, start, end), sensors


@dataclass(frozen=True)
class _Cached:
    window: Any
    levels: Any
    report: Any


@st.cache_resource(show_spinner=False)
def _cached(ttl_s: int) -> _Cached:
    wrap = st.cache_data(ttl=ttl_s, show_spinner=False, max_entries=200)
    return _Cached(window=wrap(_window), levels=wrap(_levels), report=wrap(_report))


class ReportData:
    """The queries of the two pages for one run, bound to the configuration and scope."""

    def __init__(self, cfg: DashboardConfig, scope: SiteScope) -> None:
        self.scope = scope
        self._db = _db(cfg)
        self._cached = _cached(cfg.dashboard.cache_ttl_s)

    def window(
        self, site: str, start: datetime, end: datetime
    ) -> tuple[list[EventRow], list[AlertRow]]:
        result: tuple[list[EventRow], list[AlertRow]]
        result = self._cached.window(self._db, self.scope, site, start, end)
        return result

    def levels(
        self, site: str, sensor: str, start: datetime, end: datetime, resolution: Resolution
    ) -> list[queries.LevelPoint]:
        result: list[queries.LevelPoint]
        result = self._cached.levels(self._db, self.scope, site, sensor, start, end, resolution)
        return result

    def report(
        self, site: str, first: date, last: date, start: datetime, end: datetime
    ) -> tuple[dict[str, list[queries.LdenDay]], list[AlertRow], list[SensorCalibration]]:
        result: tuple[dict[str, list[queries.LdenDay]], list[AlertRow], list[SensorCalibration]]
        result = self._cached.report(self._db, self.scope, site, first, last, start, end)
        return result

    def export_levels(
        self, site: str, start: datetime, end: datetime, resolution: Resolution, cap: int
    ) -> Table:
        with self._db.connection() as conn:
            return report_queries.export_levels(conn, self.scope, site, start, end, resolution, cap)

    def export_events(self, site: str, start: datetime, end: datetime, cap: int) -> Table:
        with self._db.connection() as conn:
            return report_queries.export_events(conn, self.scope, site, start, end, cap)
