"""Sign-in, throttling, sessions and the users CLI against the suite's PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from noisefleet_dashboard import accounts, cli
from noisefleet_dashboard.access import User
from noisefleet_dashboard.config import DashboardSettings
from noisefleet_dashboard.errors import AccountError

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTINGS = DashboardSettings(session_ttl_s=3600, max_failed=3, lock_s=600)
PASSWORD = "correct horse battery"


@pytest.fixture
def users(db: psycopg.Connection) -> psycopg.Connection:
    accounts.add_user(db, "olga", PASSWORD, "operator", ["tower"])
    return db


def test_sign_in_opens_a_session_that_expires(users: psycopg.Connection):
    result = accounts.sign_in(users, "Olga ", PASSWORD, SETTINGS, NOW)
    assert result.refusal is None
    assert result.user == User("olga", "operator", frozenset({"tower"}))
    assert result.token is not None
    stored = users.execute("SELECT token_hash FROM noisefleet_store.dashboard_sessions").fetchall()
    assert len(stored) == 1
    assert result.token.encode() not in stored[0][0]  # only the hash is kept
    later = NOW + timedelta(seconds=3599)
    assert accounts.resolve_session(users, result.token, later) == result.user
    assert accounts.resolve_session(users, result.token, NOW + timedelta(seconds=3600)) is None
    assert accounts.resolve_session(users, "forged", NOW) is None


def test_wrong_and_unknown_users_get_the_same_answer(users: psycopg.Connection):
    wrong = accounts.sign_in(users, "olga", "wrong password", SETTINGS, NOW)
    unknown = accounts.sign_in(users, "nobody", PASSWORD, SETTINGS, NOW)
    assert wrong.refusal == unknown.refusal == accounts.WRONG
    assert wrong.token is None
    assert unknown.user is None


def test_failures_lock_the_account_for_lock_s(users: psycopg.Connection):
    for _ in range(2):
        assert accounts.sign_in(users, "olga", "nope", SETTINGS, NOW).refusal == accounts.WRONG
    third = accounts.sign_in(users, "olga", "nope", SETTINGS, NOW)
    assert third.refusal is not None
    assert "locked for 10 min" in third.refusal
    locked = accounts.sign_in(users, "olga", PASSWORD, SETTINGS, NOW + timedelta(seconds=599))
    assert locked.token is None  # the right password is refused while locked
    assert locked.refusal is not None
    assert "locked until 12:10 UTC" in locked.refusal
    after = accounts.sign_in(users, "olga", PASSWORD, SETTINGS, NOW + timedelta(seconds=600))
    assert after.token is not None
    row = users.execute("SELECT failed_count, locked_until FROM noisefleet_store.dashboard_users")
    assert row.fetchone() == (0, None)


def test_disabling_ends_sessions_and_refuses_sign_in(users: psycopg.Connection):
    token = accounts.sign_in(users, "olga", PASSWORD, SETTINGS, NOW).token
    assert token is not None
    accounts.set_disabled(users, "olga")
    assert accounts.resolve_session(users, token, NOW) is None
    assert accounts.sign_in(users, "olga", PASSWORD, SETTINGS, NOW).refusal == accounts.WRONG
    accounts.set_disabled(users, "olga", False)
    assert accounts.sign_in(users, "olga", PASSWORD, SETTINGS, NOW).token is not None


def test_site_changes_apply_to_open_sessions_and_sign_out(users: psycopg.Connection):
    token = accounts.sign_in(users, "olga", PASSWORD, SETTINGS, NOW).token
    assert token is not None
    accounts.set_sites(users, "olga", ["depot", "tower"])
    user = accounts.resolve_session(users, token, NOW)
    assert user is not None
    assert user.sites == {"depot", "tower"}
    accounts.sign_out(users, token)
    assert accounts.resolve_session(users, token, NOW) is None


def test_account_mistakes(users: psycopg.Connection):
    with pytest.raises(AccountError, match="exists"):
        accounts.add_user(users, "olga", PASSWORD, "viewer")
    with pytest.raises(AccountError, match="role"):
        accounts.add_user(users, "new", PASSWORD, "root")
    with pytest.raises(AccountError, match="at least 10"):
        accounts.add_user(users, "new", "short", "viewer")
    with pytest.raises(AccountError, match="username"):
        accounts.add_user(users, "Bad Name", PASSWORD, "viewer")
    with pytest.raises(AccountError, match="no user"):
        accounts.set_password(users, "ghost", PASSWORD)


def test_users_cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("NOISEFLEET_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["users", "add", "admin", "--role", "admin", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["users", "add", "vera", "--role", "viewer", "--site", "tower",
                     "--password-stdin"]) == 0  # fmt: skip
    assert cli.main(["users", "disable", "vera"]) == 0
    capsys.readouterr()
    assert cli.main(["users", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["admin\tadmin\tactive\tall sites", "vera\tviewer\tdisabled\ttower"]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["users", "passwd", "vera", "--password-stdin"]) == 1
    assert capsys.readouterr().err == (
        "noisefleet-dashboard: the password must have at least 10 characters\n"
    )
    monkeypatch.setenv("NOISEFLEET_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert cli.main(["users", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("noisefleet-dashboard: database: ")
    assert err.count("\n") == 1
