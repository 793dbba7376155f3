"""The Streamlit adapter of the Sensor page: the sensor list and heartbeat history cached
(keyed like ``data``'s: database, ``SiteScope``, parameters); the sensor's row, its latest
heartbeat and its commands read fresh on every run (one indexed row each) so that an agent's
answer shows on the next click; the pushes never cached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from noisefleet_dashboard import sensor_queries
from noisefleet_dashboard.access import SiteScope, User
from noisefleet_dashboard.config import DashboardConfig
from noisefleet_dashboard.data import _Db, _db
from noisefleet_dashboard.sensor_queries import (
    CommandRow,
    HealthPoint,
    LatestHeartbeat,
    SensorDetail,
)
from noisefleet_server.commands import Sent


def _sensors(db: _Db, scope: SiteScope) -> list[tuple[str, str]]:
    with db.connection() as conn:
        return sensor_queries.sensors_of(conn, scope)


def _health(
    db: _Db, scope: SiteScope, site: str, sensor: str, start: datetime, end: datetime, bucket: int
) -> list[HealthPoint]:
    with db.connection() as conn:
        return sensor_queries.health(conn, scope, site, sensor, start, end, bucket)


@dataclass(frozen=True)
class _Cached:
    sensors: Any
    health: Any


@st.cache_resource(show_spinner=False)
def _cached(ttl_s: int) -> _Cached:
    wrap = st.cache_data(ttl=ttl_s, show_spinner=False, max_entries=1000)
    return _Cached(sensors=wrap(_sensors), health=wrap(_health))


class SensorData:
    """The Sensor page's data for one run, bound to the config and the user's scope."""

    def __init__(self, cfg: DashboardConfig, scope: SiteScope) -> None:
        self.cfg = cfg
        self.scope = scope
        self._db = _db(cfg)
        self._c = _cached(cfg.dashboard.cache_ttl_s)

    def sensors(self) -> list[tuple[str, str]]:
        result: list[tuple[str, str]] = self._c.sensors(self._db, self.scope)
        return result

    def health(
        self, site: str, sensor: str, start: datetime, end: datetime, bucket_s: int
    ) -> list[HealthPoint]:
        result: list[HealthPoint] = self._c.health(
            self._db, self.scope, site, sensor, start, end, bucket_s
        )
        return result

    # -- fresh on every run --

    def detail(self, site: str, sensor: str) -> SensorDetail | None:
        with self._db.connection() as conn:
            return sensor_queries.detail(conn, self.scope, site, sensor)

    def latest_heartbeat(self, site: str, sensor: str) -> LatestHeartbeat | None:
        with self._db.connection() as conn:
            return sensor_queries.latest_heartbeat(conn, self.scope, site, sensor)

    def commands(self, site: str, sensor: str) -> list[CommandRow]:
        with self._db.connection() as conn:
            return sensor_queries.command_history(conn, self.scope, site, sensor)

    def model_folders(self) -> list[Path]:
        return sensor_queries.model_folders(self.cfg.dashboard.models_dir)

    # -- the writes --

    def push_settings(self, user: User, site: str, sensor: str, text: str) -> Sent:
        return sensor_queries.push_settings(
            self._db.url,
            self.cfg.mqtt,
            user,
            site,
            sensor,
            text.splitlines(),
            self.cfg.dashboard.command_wait_s,
        )

    def push_model(self, user: User, site: str, sensor: str, folder: str) -> Sent:
        return sensor_queries.push_model(
            self._db.url,
            self.cfg.mqtt,
            self.cfg.dashboard.models_dir,
            user,
            site,
            sensor,
            folder,
            self.cfg.dashboard.command_wait_s,
        )
