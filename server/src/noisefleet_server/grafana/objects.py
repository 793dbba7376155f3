"""The objects ``grafana provision`` wants in Grafana, built from the package's JSON (pure).

Steps:
1. ``datasource_body`` turns a libpq URL (no password in it) into the PostgreSQL datasource;
2. ``load_dashboards`` / ``load_alert_rules`` read ``dashboards/*.json`` and
   ``alert-rules/*.json`` and point them at the datasource and folder;
3. ``differs`` compares what we want with what Grafana answered: only the keys we set count
   (Grafana adds ids, versions and defaults of its own), so a second run writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from noisefleet_server.errors import ServerError

DATASOURCE_UID = "noisefleet-pg"
DATASOURCE_NAME = "noisefleet PostgreSQL"
DATASOURCE_TYPE = "grafana-postgresql-datasource"
#: In the JSON files, where the datasource uid and the folder uid go.
DATASOURCE_PLACEHOLDER = "${DS_NOISEFLEET}"
FOLDER_PLACEHOLDER = "${FOLDER_UID}"


class GrafanaError(ServerError):
    """Grafana refused, failed or could not be reached; the text is one line."""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    body: dict[str, Any]
    """The dashboard model as sent (no ``id`` or ``version``)."""


@dataclass(frozen=True)
class AlertRule:
    uid: str
    title: str
    body: dict[str, Any]
    """The rule as sent to /api/v1/provisioning/alert-rules."""


def datasource_body(
    url: str, *, timescaledb: bool, postgres_version: int = 1600, password: str | None
) -> dict[str, Any]:
    """The datasource for ``url`` (``postgresql://user@host:port/db?sslmode=…``).

    The password travels in ``secureJsonData`` (Grafana encrypts it and never returns it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise GrafanaError("--datasource-url: must be a postgresql:// URL")
    if parts.password is not None:
        raise GrafanaError(
            "--datasource-url: do not put the password in the URL; use "
            "--datasource-password-file or NOISEFLEET_GRAFANA_DATASOURCE_PASSWORD"
        )
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not database:
        raise GrafanaError(
            "--datasource-url: needs a host and a database, e.g. postgresql://u@db/n"
        )
    sslmode = parse_qs(parts.query).get("sslmode", ["disable"])[0]
    body: dict[str, Any] = {
        "uid": DATASOURCE_UID,
        "name": DATASOURCE_NAME,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": f"{parts.hostname}:{parts.port or 5432}",
        "user": unquote(parts.username or ""),
        "isDefault": False,
        "jsonData": {
            "database": database,
            "sslmode": sslmode,
            "postgresVersion": postgres_version,
            "timescaledb": timescaledb,
            "maxOpenConns": 4,
            "connMaxLifetime": 14400,
        },
    }
    if password is not None:
        body["secureJsonData"] = {"password": password}
    return body


def _package_json(folder: str) -> list[tuple[str, Any]]:
    root = resources.files("noisefleet_server.grafana").joinpath(folder)
    found = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            try:
                found.append((entry.name, json.loads(entry.read_text(encoding="utf-8"))))
            except json.JSONDecodeError as error:
                raise GrafanaError(f"{folder}/{entry.name}: not valid JSON: {error}") from None
    return found


def _substitute(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return replacements.get(value, value)
    if isinstance(value, list):
        return [_substitute(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, replacements) for k, v in value.items()}
    return value


def load_dashboards(datasource_uid: str = DATASOURCE_UID) -> list[Dashboard]:
    """The package's dashboards, their datasource references set to ``datasource_uid``."""
    dashboards = []
    for name, raw in _package_json("dashboards"):
        if not isinstance(raw, dict) or not raw.get("uid") or not raw.get("title"):
            raise GrafanaError(f"dashboards/{name}: needs a uid and a title")
        body = _substitute(raw, {DATASOURCE_PLACEHOLDER: datasource_uid})
        dashboards.append(Dashboard(uid=body["uid"], title=body["title"], body=body))
    return dashboards


def load_alert_rules(folder_uid: str, datasource_uid: str = DATASOURCE_UID) -> list[AlertRule]:
    """The package's alert rules, in ``folder_uid``, querying ``datasource_uid``."""
    rules = []
    replacements = {DATASOURCE_PLACEHOLDER: datasource_uid, FOLDER_PLACEHOLDER: folder_uid}
    for name, raw in _package_json("alert-rules"):
        if not isinstance(raw, dict) or not raw.get("uid") or not raw.get("title"):
            raise GrafanaError(f"alert-rules/{name}: needs a uid and a title")
        body = _substitute(raw, replacements)
        rules.append(AlertRule(uid=body["uid"], title=body["title"], body=body))
    return rules


def differs(wanted: Any, actual: Any) -> bool:
    """Whether ``actual`` lacks something of ``wanted``: dict keys we set must match (extra
    keys in ``actual`` are Grafana's own), lists match item by item, other values equal."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return True
        return any(key not in actual or differs(v, actual[key]) for key, v in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(actual, list) or len(wanted) != len(actual):
            return True
        return any(differs(w, a) for w, a in zip(wanted, actual, strict=True))
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return wanted is not actual
    if isinstance(wanted, int | float) and isinstance(actual, int | float):
        return float(wanted) != float(actual)
    return bool(wanted != actual)
