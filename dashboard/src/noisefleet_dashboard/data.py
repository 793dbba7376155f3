"""The Streamlit side of the data: configuration, the connection pool, the signed-in user and
cached queries. Pages call these and nothing below them.

- The configuration is read on every run (cheap) from the file named by
  ``NOISEFLEET_DASHBOARD_CONFIG`` and the environment; the pool is one per database URL.
- The session token lives in ``st.session_state`` (server side, per browser tab); the user is
  resolved from it on every run, so an expiry, a disabled account or changed sites take effect
  on the next click.
- Cached queries are keyed by the database, the user's ``SiteScope`` and the page's parameters
  (never by the user's name alone, never shared between different access rights); "now" is
  floored to the cache TTL so that one bucket of time gives one cache entry.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import streamlit as st
from psycopg_pool import ConnectionPool, PoolTimeout

from noisefleet_dashboard import accounts, queries
from noisefleet_dashboard.access import SiteScope, User
from noisefleet_dashboard.causes import HourLevel, ShareRow
from noisefleet_dashboard.config import CONFIG_FILE_ENV, DashboardConfig, load_config
from noisefleet_dashboard.errors import DatabaseUnavailableError
from noisefleet_dashboard.resolution import Resolution

TOKEN_KEY = "auth_token"
USER_KEY = "auth_user"
NOTICE_KEY = "auth_notice"


def config() -> DashboardConfig:
    path = os.environ.get(CONFIG_FILE_ENV)
    return load_config(Path(path) if path else None)


@st.cache_resource(show_spinner=False)
def _pool(url: str, max_size: int, timeout_s: float) -> ConnectionPool:
    return ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        timeout=timeout_s,
        kwargs={"autocommit": True, "connect_timeout": int(timeout_s)},
        open=True,
    )


@contextmanager
def _connection(url: str, max_size: int, timeout_s: float) -> Iterator[psycopg.Connection]:
    """A pooled connection; an unreachable database becomes one line for the page."""
    try:
        with _pool(url, max_size, timeout_s).connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError) as error:
        first = (str(error).strip().splitlines() or ["unreachable"])[0]
        raise DatabaseUnavailableError(f"The database cannot be reached: {first}") from None


def connection(cfg: DashboardConfig) -> Any:
    d = cfg.database
    return _connection(d.url, d.pool_max_size, d.connect_timeout_s)


def now() -> datetime:
    return datetime.now(UTC)


def floored_now(cfg: DashboardConfig) -> datetime:
    ttl = cfg.dashboard.cache_ttl_s
    t = now().timestamp()
    return datetime.fromtimestamp(t - t % ttl, UTC)


# -- the signed-in user -----------------------------------------------------------------------


def current_user(cfg: DashboardConfig) -> User | None:
    token = st.session_state.get(TOKEN_KEY)
    if not token:
        return None
    with connection(cfg) as conn:
        user = accounts.resolve_session(conn, token, now())
    if user is None:
        st.session_state.pop(TOKEN_KEY, None)
        st.session_state[NOTICE_KEY] = "Your session has ended: please sign in again."
    st.session_state[USER_KEY] = user
    return user


def signed_in_user() -> User:
    """The user resolved by the app for this run (pages are only routed when there is one)."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, User):
        st.stop()
    return user


def sign_in(cfg: DashboardConfig, username: str, password: str) -> str | None:
    """Sign in; None on success, else the refusal to show."""
    with connection(cfg) as conn:
        result = accounts.sign_in(conn, username, password, cfg.dashboard, now())
    if result.token is None:
        return result.refusal
    st.session_state[TOKEN_KEY] = result.token
    st.session_state.pop(NOTICE_KEY, None)
    return None


def sign_out(cfg: DashboardConfig) -> None:
    token = st.session_state.pop(TOKEN_KEY, None)
    st.session_state.pop(USER_KEY, None)
    if token:
        with connection(cfg) as conn:
            accounts.sign_out(conn, token)


# -- cached queries -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Db:
    """What identifies a database in cache keys (the pool itself is not hashable)."""

    url: str
    max_size: int
    timeout_s: float

    def connection(self) -> Any:
        return _connection(self.url, self.max_size, self.timeout_s)


def _db(cfg: DashboardConfig) -> _Db:
    return _Db(cfg.database.url, cfg.database.pool_max_size, cfg.database.connect_timeout_s)


def _sites(db: _Db, scope: SiteScope) -> list[queries.SiteRow]:
    with db.connection() as conn:
        return queries.sites(conn, scope)


def _fleet(db: _Db, scope: SiteScope, at: datetime) -> list[queries.FleetRow]:
    with db.connection() as conn:
        return queries.fleet(conn, scope, at)


def _pending(db: _Db, scope: SiteScope) -> list[queries.PendingSensor]:
    with db.connection() as conn:
        return queries.pending_sensors(conn, scope)


def _site_sensors(db: _Db, scope: SiteScope, site: str) -> list[str]:
    with db.connection() as conn:
        return queries.site_sensors(conn, scope, site)


def _levels(
    db: _Db,
    scope: SiteScope,
    site: str,
    sensor: str,
    start: datetime,
    end: datetime,
    resolution: Resolution,
) -> tuple[list[queries.LevelPoint], tuple[float | None, float]]:
    with db.connection() as conn:
        points = queries.levels(conn, scope, site, sensor, start, end, resolution)
        return points, queries.span_laeq(conn, scope, site, sensor, start, end)


def _lden(
    db: _Db, scope: SiteScope, site: str, sensor: str, first: date, last: date
) -> list[queries.LdenDay]:
    with db.connection() as conn:
        return queries.lden_days(conn, scope, site, sensor, first, last)


def _causes(
    db: _Db, scope: SiteScope, site: str, sensor: str, start: datetime, end: datetime
) -> tuple[list[ShareRow], list[HourLevel]]:
    with db.connection() as conn:
        return (
            queries.energy_shares(conn, scope, site, sensor, start, end),
            queries.hourly_levels(conn, scope, site, sensor, start, end),
        )


@dataclass(frozen=True)
class Cached:
    sites: Any
    fleet: Any
    pending: Any
    site_sensors: Any
    levels: Any
    lden: Any
    causes: Any


@st.cache_resource(show_spinner=False)
def _cached(ttl_s: int) -> Cached:
    wrap = st.cache_data(ttl=ttl_s, show_spinner=False, max_entries=1000)
    return Cached(
        sites=wrap(_sites),
        fleet=wrap(_fleet),
        pending=wrap(_pending),
        site_sensors=wrap(_site_sensors),
        levels=wrap(_levels),
        lden=wrap(_lden),
        causes=wrap(_causes),
    )


class Data:
    """The cached queries for one run, bound to the configuration and the user's scope."""

    def __init__(self, cfg: DashboardConfig, scope: SiteScope) -> None:
        self.cfg = cfg
        self.scope = scope
        self._db = _db(cfg)
        self._cached = _cached(cfg.dashboard.cache_ttl_s)

    def sites(self) -> list[queries.SiteRow]:
        result: list[queries.SiteRow] = self._cached.sites(self._db, self.scope)
        return result

    def fleet(self, at: datetime) -> list[queries.FleetRow]:
        result: list[queries.FleetRow] = self._cached.fleet(self._db, self.scope, at)
        return result

    def pending(self) -> list[queries.PendingSensor]:
        result: list[queries.PendingSensor] = self._cached.pending(self._db, self.scope)
        return result

    def site_sensors(self, site: str) -> list[str]:
        result: list[str] = self._cached.site_sensors(self._db, self.scope, site)
        return result

    def levels(
        self, site: str, sensor: str, start: datetime, end: datetime, resolution: Resolution
    ) -> tuple[list[queries.LevelPoint], tuple[float | None, float]]:
        result: tuple[list[queries.LevelPoint], tuple[float | None, float]]
        result = self._cached.levels(self._db, self.scope, site, sensor, start, end, resolution)
        return result

    def lden(self, site: str, sensor: str, first: date, last: date) -> list[queries.LdenDay]:
        result: list[queries.LdenDay] = self._cached.lden(
            self._db, self.scope, site, sensor, first, last
        )
        return result

    def causes(
        self, site: str, sensor: str, start: datetime, end: datetime
    ) -> tuple[list[ShareRow], list[HourLevel]]:
        """The hourly energy shares per label and the hourly levels of [start, end)."""
        result: tuple[list[ShareRow], list[HourLevel]] = self._cached.causes(
            self._db, self.scope, site, sensor, start, end
        )
        return result
