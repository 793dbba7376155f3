"""Dashboard accounts in PostgreSQL (tables of server migration 0006): users, their sites,
sessions. Plain functions taking a psycopg connection; the rules are ``auth``'s and ``access``'s.

``sign_in`` steps (one transaction, the user's row locked so concurrent tries count correctly):
1. read the user (or nothing); a locked account is refused before any password check;
2. verify the password (against a dummy hash for an unknown or disabled user: same cost);
3. on failure count it (``auth.after_failure``), on success reset the count, rehash when the
   parameters changed, and store a new session (token hashed) valid for ``session_ttl_s``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from noisefleet_dashboard import auth
from noisefleet_dashboard.access import ROLES, Role, User
from noisefleet_dashboard.config import DashboardSettings
from noisefleet_dashboard.errors import AccountError

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class UserRow:
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    failed_count: int
    locked_until: datetime | None
    sites: list[str]


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    token: str | None
    refusal: str | None
    """One line for the sign-in form when refused."""


WRONG = "Wrong username or password."


def _check_new(username: str, role: str, password: str) -> None:
    if not _USERNAME.match(username):
        raise AccountError(
            f"username {username!r}: lower-case letters, digits and . _ @ - (at most 64)"
        )
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    problem = auth.check_password_strength(password)
    if problem:
        raise AccountError(problem)


def add_user(
    conn: psycopg.Connection, username: str, password: str, role: str, sites: Iterable[str] = ()
) -> None:
    """A new user with the given role and sites; an existing username is an error."""
    _check_new(username, role, password)
    with conn.transaction():
        cursor = conn.execute(
            "INSERT INTO noisefleet_store.dashboard_users (username, password_hash, role)"
            " VALUES (%s, %s, %s) ON CONFLICT (username) DO NOTHING RETURNING username",
            (username, auth.hash_password(password), role),
        )
        if cursor.fetchone() is None:
            raise AccountError(f"user {username!r} exists: use `users passwd` or `users sites`")
        _write_sites(conn, username, sites)


def _write_sites(conn: psycopg.Connection, username: str, sites: Iterable[str]) -> None:
    conn.execute(
        "DELETE FROM noisefleet_store.dashboard_user_sites WHERE username = %s", (username,)
    )
    conn.execute(
        "INSERT INTO noisefleet_store.dashboard_user_sites (username, site)"
        " SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
        (username, sorted(set(sites))),
    )


def _require(conn: psycopg.Connection, username: str) -> None:
    row = conn.execute(
        "SELECT 1 FROM noisefleet_store.dashboard_users WHERE username = %s", (username,)
    ).fetchone()
    if row is None:
        raise AccountError(f"no user {username!r} (see `users list`)")


def set_sites(conn: psycopg.Connection, username: str, sites: Iterable[str]) -> None:
    """Replace the sites an operator or viewer may see."""
    with conn.transaction():
        _require(conn, username)
        _write_sites(conn, username, sites)


def set_password(conn: psycopg.Connection, username: str, password: str) -> None:
    """A new password; unlocks the account and ends its sessions."""
    problem = auth.check_password_strength(password)
    if problem:
        raise AccountError(problem)
    with conn.transaction():
        _require(conn, username)
        conn.execute(
            "UPDATE noisefleet_store.dashboard_users SET password_hash = %s, failed_count = 0,"
            " locked_until = NULL WHERE username = %s",
            (auth.hash_password(password), username),
        )
        _end_sessions(conn, username)


def set_disabled(conn: psycopg.Connection, username: str, disabled: bool = True) -> None:
    """Disable (ending its sessions at once) or enable a user."""
    with conn.transaction():
        _require(conn, username)
        conn.execute(
            "UPDATE noisefleet_store.dashboard_users SET disabled = %s WHERE username = %s",
            (disabled, username),
        )
        if disabled:
            _end_sessions(conn, username)


def set_role(conn: psycopg.Connection, username: str, role: str) -> None:
    """A new role; it takes effect on the user's next click (sessions read it afresh)."""
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    with conn.transaction():
        _require(conn, username)
        conn.execute(
            "UPDATE noisefleet_store.dashboard_users SET role = %s WHERE username = %s",
            (role, username),
        )


def _end_sessions(conn: psycopg.Connection, username: str) -> None:
    conn.execute("DELETE FROM noisefleet_store.dashboard_sessions WHERE username = %s", (username,))


def list_users(conn: psycopg.Connection) -> list[UserRow]:
    cursor = conn.cursor(row_factory=class_row(UserRow))
    return cursor.execute(
        "SELECT u.username, u.role, u.disabled, u.created_at, u.failed_count, u.locked_until,"
        " coalesce(array_agg(s.site ORDER BY s.site) FILTER (WHERE s.site IS NOT NULL), '{}')"
        " AS sites FROM noisefleet_store.dashboard_users u"
        " LEFT JOIN noisefleet_store.dashboard_user_sites s USING (username)"
        " GROUP BY u.username ORDER BY u.username"
    ).fetchall()


def _user(conn: psycopg.Connection, username: str, role: Role) -> User:
    rows = conn.execute(
        "SELECT site FROM noisefleet_store.dashboard_user_sites WHERE username = %s", (username,)
    ).fetchall()
    return User(username=username, role=role, sites=frozenset(r[0] for r in rows))


def sign_in(
    conn: psycopg.Connection,
    username: str,
    password: str,
    settings: DashboardSettings,
    now: datetime,
) -> SignInResult:
    """Check the password and open a session (see the module docstring)."""
    username = username.strip().lower()
    with conn.transaction():
        row = conn.execute(
            "SELECT password_hash, role, disabled, failed_count, locked_until"
            " FROM noisefleet_store.dashboard_users WHERE username = %s FOR UPDATE",
            (username,),
        ).fetchone()
        if row is not None:
            throttle = auth.Throttle(row[3], row[4])
            if auth.is_locked(throttle, now):
                assert throttle.locked_until is not None
                until = throttle.locked_until.strftime("%H:%M UTC")
                return SignInResult(
                    None, None, f"Too many failed sign-ins: the account is locked until {until}."
                )
        password_hash = row[0] if row is not None and not row[2] else None
        if not auth.verify_password(password_hash, password):
            if row is not None:
                failed = auth.after_failure(throttle, now, settings.max_failed, settings.lock_s)
                conn.execute(
                    "UPDATE noisefleet_store.dashboard_users SET failed_count = %s,"
                    " locked_until = %s WHERE username = %s",
                    (failed.failed_count, failed.locked_until, username),
                )
                if failed.locked_until is not None:
                    return SignInResult(
                        None,
                        None,
                        f"{WRONG} Too many failed sign-ins: the account is locked for"
                        f" {settings.lock_s // 60} min.",
                    )
            return SignInResult(None, None, WRONG)
        assert password_hash is not None
        assert row is not None
        new_hash = auth.hash_password(password) if auth.needs_rehash(password_hash) else None
        conn.execute(
            "UPDATE noisefleet_store.dashboard_users SET failed_count = 0, locked_until = NULL,"
            " password_hash = coalesce(%s, password_hash) WHERE username = %s",
            (new_hash, username),
        )
        token = auth.new_token()
        conn.execute(
            "INSERT INTO noisefleet_store.dashboard_sessions"
            " (token_hash, username, created_at, expires_at, last_seen)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                auth.token_hash(token),
                username,
                now,
                auth.session_expiry(now, settings.session_ttl_s),
                now,
            ),
        )
        conn.execute(
            "DELETE FROM noisefleet_store.dashboard_sessions WHERE expires_at <= %s", (now,)
        )
        return SignInResult(_user(conn, username, row[1]), token, None)


def resolve_session(conn: psycopg.Connection, token: str, now: datetime) -> User | None:
    """The signed-in user of a session token, or None when it is unknown, expired or disabled.
    The user's role and sites are read afresh, so a change takes effect on the next page."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE noisefleet_store.dashboard_sessions s SET last_seen = %s"
            " FROM noisefleet_store.dashboard_users u"
            " WHERE s.token_hash = %s AND u.username = s.username AND NOT u.disabled"
            " AND s.expires_at > %s RETURNING u.username, u.role",
            (now, auth.token_hash(token), now),
        ).fetchone()
        if row is None:
            return None
        return _user(conn, row[0], row[1])


def sign_out(conn: psycopg.Connection, token: str) -> None:
    conn.execute(
        "DELETE FROM noisefleet_store.dashboard_sessions WHERE token_hash = %s",
        (auth.token_hash(token),),
    )
