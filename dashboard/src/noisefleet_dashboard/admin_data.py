"""The Streamlit adapter of the Admin page: the users read fresh (an admin's change shows at
once), sites and pending sensors through ``data``'s cached queries, and the writes of
``admin_queries``; after a write every cached query result is dropped, so no page shows a site,
an assignment or a user's sites from before it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import streamlit as st

from noisefleet_dashboard import accounts, admin_queries, data, queries
from noisefleet_dashboard.access import User, scope_of
from noisefleet_dashboard.config import DashboardConfig


class AdminData:
    def __init__(self, cfg: DashboardConfig, user: User) -> None:
        self.cfg = cfg
        self.user = user
        self._store = data.Data(cfg, scope_of(user))

    def users(self) -> list[accounts.UserRow]:
        with data.connection(self.cfg) as conn:
            return admin_queries.users(conn, self.user)

    def sites(self) -> list[queries.SiteRow]:
        return self._store.sites()

    def pending(self) -> list[queries.PendingSensor]:
        return self._store.pending()

    def add_user(self, username: str, password: str, role: str, sites: Iterable[str]) -> None:
        with data.connection(self.cfg) as conn:
            admin_queries.add_user(conn, self.user, username, password, role, sites)

    def update_user(
        self, username: str, *, role: str, sites: Iterable[str], disabled: bool
    ) -> None:
        with data.connection(self.cfg) as conn:
            admin_queries.update_user(
                conn, self.user, username, role=role, sites=sites, disabled=disabled
            )

    def reset_password(self, username: str, password: str) -> None:
        with data.connection(self.cfg) as conn:
            admin_queries.reset_password(conn, self.user, username, password)

    def save_site(
        self,
        site: str,
        *,
        kind: str,
        timezone: str,
        name: str | None,
        address: str | None,
        lat: float | None,
        lon: float | None,
        limits: Mapping[str, float],
    ) -> bool:
        new = admin_queries.save_site(
            self.cfg.database.url,
            self.user,
            site,
            kind=kind,
            timezone=timezone,
            name=name,
            address=address,
            lat=lat,
            lon=lon,
            limits=limits,
        )
        st.cache_data.clear()
        return new

    def assign_sensor(self, site: str, sensor: str) -> None:
        admin_queries.assign_sensor(self.cfg.database.url, self.user, site, sensor)
        st.cache_data.clear()
