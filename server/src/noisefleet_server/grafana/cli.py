"""``noisefleet-server grafana provision``: the datasource, folder, dashboards and alert rules.

Steps: resolve the token and the datasource's URL and password (flags, files, environment,
else the server's own database URL), build the plan from the package's JSON, provision, print
one line per object. Secrets are never printed; errors are one line (``ServerError``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from noisefleet_server.errors import ServerError
from noisefleet_server.grafana.objects import (
    DATASOURCE_UID,
    datasource_body,
    load_alert_rules,
    load_dashboards,
)
from noisefleet_server.grafana.provision import Plan, connect, provision

TOKEN_ENV = "NOISEFLEET_GRAFANA_TOKEN"
URL_ENV = "NOISEFLEET_GRAFANA_URL"
DATASOURCE_URL_ENV = "NOISEFLEET_GRAFANA_DATASOURCE_URL"
DATASOURCE_PASSWORD_ENV = "NOISEFLEET_GRAFANA_DATASOURCE_PASSWORD"


def add_parser(sub: Any) -> None:
    grafana = sub.add_parser("grafana", help="provision Grafana: datasource, dashboards, alerts")
    verbs = grafana.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("provision", help="create or update what is missing or different")
    p.add_argument("--url", help=f"Grafana's base URL, e.g. http://grafana:3000 (or {URL_ENV})")
    p.add_argument("--token", help=f"service account token (or --token-file, or {TOKEN_ENV})")
    p.add_argument("--token-file", type=Path, help="file holding the token")
    p.add_argument(
        "--basic-auth-file",
        type=Path,
        help="instead of a token: a file holding USER:PASSWORD of a Grafana admin (e.g. the "
        "compose stack's first run, before any service account exists)",
    )
    p.add_argument(
        "--datasource-url",
        help="postgresql://user@host:port/db?sslmode=… Grafana connects with (no password; "
        f"or {DATASOURCE_URL_ENV}; default: the server's database.url)",
    )
    p.add_argument(
        "--datasource-password-file",
        type=Path,
        help=f"file holding that user's password (or {DATASOURCE_PASSWORD_ENV})",
    )
    p.add_argument(
        "--timescaledb",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="tell Grafana the database has TimescaleDB ($__timeGroup becomes time_bucket)",
    )
    p.add_argument("--postgres-version", type=int, default=1600, help="e.g. 1500, 1600")
    p.add_argument("--folder", default="noisefleet", help="the folder's uid")
    p.add_argument("--folder-title", default="noisefleet")
    p.add_argument("--timeout-s", type=float, default=10.0, help="per request")
    p.add_argument(
        "--rotate-password",
        action="store_true",
        help="send the datasource password even when Grafana already holds one",
    )
    p.add_argument("--dry-run", action="store_true", help="read and compare only; write nothing")


def _read_secret(option: str, path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ServerError(f"{option}: cannot read {path}: {error.strerror}") from None
    if not text:
        raise ServerError(f"{option}: {path} is empty")
    return text


def _token(args: argparse.Namespace, env: Mapping[str, str]) -> str | tuple[str, str]:
    """The bearer token, or (user, password) for basic authentication."""
    given = [name for name in ("token", "token_file", "basic_auth_file") if getattr(args, name)]
    if len(given) > 1:
        options = " and ".join("--" + name.replace("_", "-") for name in given)
        raise ServerError(f"grafana provision: give one of {options}, not both")
    if args.basic_auth_file:
        text = _read_secret("--basic-auth-file", args.basic_auth_file)
        user, sep, password = text.partition(":")
        if not sep or not user or not password:
            raise ServerError(f"--basic-auth-file: {args.basic_auth_file}: expected USER:PASSWORD")
        return user, password
    if args.token:
        return str(args.token)
    if args.token_file:
        return _read_secret("--token-file", args.token_file)
    if env.get(TOKEN_ENV):
        return env[TOKEN_ENV]
    raise ServerError(
        f"grafana provision: no token: give --token, --token-file, --basic-auth-file or {TOKEN_ENV}"
    )


def _url(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    url = str(args.url or env.get(URL_ENV, ""))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerError(f"--url {url!r}: expected Grafana's http(s):// URL (or {URL_ENV})")
    if parts.password is not None:
        raise ServerError("--url: no credentials in the URL; use --token or --token-file")
    return url.rstrip("/")


def _datasource(
    args: argparse.Namespace, env: Mapping[str, str], server_url: Callable[[], str]
) -> tuple[str, str | None]:
    """The URL Grafana connects with (no password) and the password, if any."""
    password = None
    if args.datasource_password_file:
        password = _read_secret("--datasource-password-file", args.datasource_password_file)
    elif env.get(DATASOURCE_PASSWORD_ENV):
        password = env[DATASOURCE_PASSWORD_ENV]
    url = args.datasource_url or env.get(DATASOURCE_URL_ENV)
    if url:
        return str(url), password
    # The server's own URL: its password came from the environment or a file, never inline.
    parts = urlsplit(server_url())
    if parts.password is not None:
        password = password or unquote(parts.password)
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username
        parts = parts._replace(netloc=f"{user}@{netloc}" if user else netloc)
    return parts.geturl(), password


def run(
    args: argparse.Namespace,
    server_url: Callable[[], str],
    env: Mapping[str, str] | None = None,
) -> int:
    """``grafana provision``; ``server_url`` gives the server's database URL when needed."""
    env = os.environ if env is None else env
    url = _url(args, env)
    token = _token(args, env)
    if args.timeout_s <= 0:
        raise ServerError("--timeout-s: must be positive")
    ds_url, password = _datasource(args, env, server_url)
    plan = Plan(
        datasource=datasource_body(
            ds_url,
            timescaledb=args.timescaledb,
            postgres_version=args.postgres_version,
            password=password,
        ),
        folder_uid=args.folder,
        folder_title=args.folder_title,
        dashboards=load_dashboards(DATASOURCE_UID),
        alert_rules=load_alert_rules(args.folder, DATASOURCE_UID),
        rotate_password=args.rotate_password,
    )
    api = connect(url, token, args.timeout_s)
    secret = token if isinstance(token, str) else token[1]  # kept out of every error line
    outcomes = provision(
        api, plan, url=url, token=secret, timeout_s=args.timeout_s, dry_run=args.dry_run
    )
    for outcome in outcomes:
        print(outcome.line())
    return 0
