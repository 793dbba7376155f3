"""The Admin page's actions, for admins only (``NotAllowedError`` for anyone else): users
through ``accounts`` (the same functions as ``noisefleet-dashboard users …``), sites and
sensor assignment through the server's ``registry`` (``add_site``, ``assign_sensor``, as
``noisefleet-server sites add`` / ``sensors assign``). Errors are one line
(``AccountError``, ``AdminError``).

An admin cannot disable, or take the admin role from, their own account: the dashboard would
be left without anyone to undo it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import psycopg

from noisefleet_dashboard import accounts
from noisefleet_dashboard.access import User, may_admin
from noisefleet_dashboard.alert_queries import NotAllowedError, run_async
from noisefleet_dashboard.errors import AccountError, DashboardError
from noisefleet_server import registry
from noisefleet_server.errors import RegistryError


class AdminError(DashboardError):
    """A site or sensor change the registry refused; one line."""


def _require_admin(user: User) -> None:
    if not may_admin(user):
        raise NotAllowedError("Only administrators manage users, sites and sensors.")


def users(conn: psycopg.Connection, user: User) -> list[accounts.UserRow]:
    _require_admin(user)
    return accounts.list_users(conn)


def add_user(
    conn: psycopg.Connection,
    user: User,
    username: str,
    password: str,
    role: str,
    sites: Iterable[str],
) -> None:
    _require_admin(user)
    accounts.add_user(conn, username.strip().lower(), password, role, sites)


def update_user(
    conn: psycopg.Connection,
    user: User,
    username: str,
    *,
    role: str,
    sites: Iterable[str],
    disabled: bool,
) -> None:
    """Set a user's role, sites and whether the account is disabled."""
    _require_admin(user)
    if username == user.username and (disabled or role != "admin"):
        raise AccountError("You cannot disable your own account or take away your admin role.")
    accounts.set_role(conn, username, role)
    accounts.set_sites(conn, username, sites)
    accounts.set_disabled(conn, username, disabled)


def reset_password(conn: psycopg.Connection, user: User, username: str, password: str) -> None:
    _require_admin(user)
    accounts.set_password(conn, username, password)


def save_site(
    url: str,
    user: User,
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
    """Add or update a site (``registry.add_site``); True when it is new."""
    _require_admin(user)
    try:
        return run_async(
            url,
            lambda conn: registry.add_site(
                conn,
                site.strip(),
                kind=kind,
                timezone=timezone.strip(),
                name=name or None,
                address=address or None,
                lat=lat,
                lon=lon,
                limits=limits,
            ),
        )
    except RegistryError as error:
        raise AdminError(str(error)) from None


def assign_sensor(url: str, user: User, site: str, sensor: str) -> None:
    """Confirm a pending sensor at a registered site (``registry.assign_sensor``)."""
    _require_admin(user)
    try:
        run_async(url, lambda conn: registry.assign_sensor(conn, site, sensor))
    except RegistryError as error:
        raise AdminError(str(error)) from None
