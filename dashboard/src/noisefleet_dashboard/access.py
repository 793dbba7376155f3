"""Who may see and change what: pure rules over a signed-in user's role and sites.

- admin: every site, may write (acknowledge, edit, push) and manage users, sites and sensors;
- operator: only the sites assigned to them, may write there;
- viewer: only the sites assigned to them, read only.

Queries never filter in Python: they take a ``SiteScope`` and filter in SQL
(``scope_sql()``: ``(%(all_sites)s OR site = ANY(%(sites)s))``). A scope is also the cache key
of every cached query, so results are never shared between users with different rights.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "operator", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "operator", "viewer")


@dataclass(frozen=True)
class SiteScope:
    """The sites a user may see: every site (admins) or the listed ones (sorted, hashable)."""

    all_sites: bool
    sites: tuple[str, ...] = ()

    def params(self) -> dict[str, object]:
        """The parameters of ``scope_sql``."""
        return {"all_sites": self.all_sites, "sites": list(self.sites)}


def scope_sql(column: str = "site") -> str:
    """A condition keeping the rows whose ``column`` names a site the scope allows (a fixed
    column name of ours, never user input; the sites themselves are parameters)."""
    return f"(%(all_sites)s OR {column} = ANY(%(sites)s))"


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    sites: frozenset[str] = frozenset()
    """Assigned sites (ignored for admins)."""


def scope_of(user: User) -> SiteScope:
    if user.role == "admin":
        return SiteScope(all_sites=True)
    return SiteScope(all_sites=False, sites=tuple(sorted(user.sites)))


def may_see(user: User, site: str) -> bool:
    return user.role == "admin" or site in user.sites


def visible(user: User, sites: Iterable[str]) -> list[str]:
    """The given sites this user may see, in the given order."""
    return [site for site in sites if may_see(user, site)]


def may_write(user: User, site: str) -> bool:
    """Acknowledge alerts, edit rules and settings, push models at this site."""
    return user.role != "viewer" and may_see(user, site)


def may_admin(user: User) -> bool:
    """Manage users, sites and sensors (assign pending sensors)."""
    return user.role == "admin"
