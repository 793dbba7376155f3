"""``noisefleet-dashboard``: start the Streamlit app, manage the dashboard's users.

Every failure is one line on stderr and exit status 1 (2 for usage errors). The tables are
created by the server's migrations: run ``noisefleet-server migrate`` first.

    noisefleet-dashboard run [--config FILE] [--port 8501] [--address 127.0.0.1]
    noisefleet-dashboard users add NAME --role admin|operator|viewer [--site SITE …]
    noisefleet-dashboard users passwd NAME        (new password; unlocks, ends sessions)
    noisefleet-dashboard users sites NAME SITE …  (replace the sites of an operator/viewer)
    noisefleet-dashboard users disable|enable NAME
    noisefleet-dashboard users list
Passwords are asked for twice on a terminal, or read from stdin with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import psycopg

from noisefleet_dashboard import accounts
from noisefleet_dashboard.access import ROLES
from noisefleet_dashboard.config import CONFIG_FILE_ENV, DashboardConfig, load_config
from noisefleet_dashboard.errors import AccountError, DashboardError, DatabaseUnavailableError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noisefleet-dashboard", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the dashboard (Streamlit, headless)")
    run.add_argument("--port", type=int, default=8501)
    run.add_argument("--address", default="127.0.0.1", help="listen address (default loopback)")
    users = sub.add_parser("users", help="the dashboard's users").add_subparsers(
        dest="users_command", required=True
    )
    add = users.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--site", action="append", default=[], help="a site it may see (repeat)")
    add.add_argument("--password-stdin", action="store_true")
    passwd = users.add_parser("passwd", help="set a new password (unlocks the account)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    sites = users.add_parser("sites", help="replace the sites an operator or viewer may see")
    sites.add_argument("username")
    sites.add_argument("sites", nargs="*")
    for name, what in (("disable", "disable (ends its sessions)"), ("enable", "enable again")):
        users.add_parser(name, help=what).add_argument("username")
    users.add_parser("list", help="list users")
    return parser


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def _connect(config: DashboardConfig) -> psycopg.Connection:
    try:
        return psycopg.connect(
            config.database.url,
            autocommit=True,
            connect_timeout=int(config.database.connect_timeout_s),
        )
    except psycopg.OperationalError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "unreachable"
        raise DatabaseUnavailableError(f"database: {first}") from None


def _users(args: argparse.Namespace, config: DashboardConfig) -> None:
    password = None
    if args.users_command in ("add", "passwd"):
        password = _password(args.password_stdin)
    with _connect(config) as conn:
        try:
            if args.users_command == "add":
                assert password is not None
                accounts.add_user(conn, args.username, password, args.role, args.site)
                print(f"added {args.role} {args.username}")
            elif args.users_command == "passwd":
                assert password is not None
                accounts.set_password(conn, args.username, password)
                print(f"password of {args.username} changed; its sessions ended")
            elif args.users_command == "sites":
                accounts.set_sites(conn, args.username, args.sites)
                print(f"{args.username} sees: {', '.join(sorted(args.sites)) or 'no sites'}")
            elif args.users_command in ("disable", "enable"):
                accounts.set_disabled(conn, args.username, args.users_command == "disable")
                print(f"{args.username} {args.users_command}d")
            else:
                for user in accounts.list_users(conn):
                    state = "disabled" if user.disabled else "active"
                    if user.locked_until is not None:
                        state += f", locked until {user.locked_until:%Y-%m-%d %H:%M %Z}"
                    sites = "all sites" if user.role == "admin" else ", ".join(user.sites) or "-"
                    print(f"{user.username}\t{user.role}\t{state}\t{sites}")
        except psycopg.errors.UndefinedTable:
            raise AccountError(
                "the dashboard's tables are missing: run `noisefleet-server migrate` first"
            ) from None


def _run(args: argparse.Namespace) -> None:
    app = Path(str(resources.files("noisefleet_dashboard").joinpath("app.py")))
    env = dict(os.environ)
    if args.config is not None:
        env[CONFIG_FILE_ENV] = str(args.config.resolve())
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.port", str(args.port),
        "--server.address", args.address,
        "--server.headless", "true",
        "--server.runOnSave", "false",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",  # no "Deploy" or developer menu for operators
    ]  # fmt: skip
    os.execve(sys.executable, command, env)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        if args.command == "run":
            _run(args)
        else:
            _users(args, config)
    except DashboardError as error:
        print(f"noisefleet-dashboard: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
