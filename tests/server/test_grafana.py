"""``grafana provision`` against a fake Grafana (every request checked, state kept between
runs), its one-line errors, and the package's dashboard and alert-rule JSON: valid for
Grafana, querying only the public views, and every panel's SQL run on a migrated database
after expanding the datasource's macros."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import pytest

from noisefleet_server.cli import main
from noisefleet_server.grafana.objects import load_alert_rules, load_dashboards
from tests.server.grafana_fake import FakeGrafana, serve

TOKEN = "glsa_secret-token-123"
DS_URL = "postgresql://grafana_reader@db.internal:5432/noisefleet?sslmode=require"
PASSWORD = "pg-secret-456"


@pytest.fixture
def grafana(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeGrafana, str]]:
    for name in ("TOKEN", "URL", "DATASOURCE_URL", "DATASOURCE_PASSWORD"):
        monkeypatch.delenv(f"NOISEFLEET_GRAFANA_{name}", raising=False)
    fake = FakeGrafana(token=TOKEN)
    server, url = serve(fake)
    yield fake, url
    fake.release.set()
    server.shutdown()
    server.server_close()


def provision(url: str, tmp_path: Path, *extra: str) -> int:
    secret = tmp_path / "pg-password"
    secret.write_text(PASSWORD + "\n")
    return main(
        [
            "grafana", "provision", "--url", url, "--datasource-url", DS_URL,
            "--datasource-password-file", str(secret), *extra,
        ]
    )  # fmt: skip


def test_first_run_creates_everything_second_run_writes_nothing(
    grafana: tuple[FakeGrafana, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, url = grafana
    assert provision(url, tmp_path, "--token", TOKEN, "--timescaledb") == 0
    first = capsys.readouterr().out.splitlines()
    dashboards = load_dashboards()
    rules = load_alert_rules("noisefleet")
    assert len(first) == 2 + len(dashboards) + len(rules)
    assert all(line.endswith(": created") for line in first), first
    assert {d.uid for d in dashboards} == {
        "noisefleet-fleet", "noisefleet-site-levels", "noisefleet-events", "noisefleet-alerts",
    }  # fmt: skip
    # Every request carried the token, and nothing else did.
    assert {r.authorization for r in fake.requests} == {f"Bearer {TOKEN}"}
    writes = [(r.method, r.path) for r in fake.writes()]
    assert writes == [
        ("POST", "/api/datasources"),
        ("POST", "/api/folders"),
        *[("POST", "/api/dashboards/db")] * len(dashboards),
        *[("POST", "/api/v1/provisioning/alert-rules")] * len(rules),
    ]
    ds = fake.datasources["noisefleet-pg"]
    assert ds["type"] == "grafana-postgresql-datasource"
    assert ds["url"] == "db.internal:5432"
    assert ds["user"] == "grafana_reader"
    assert ds["jsonData"]["database"] == "noisefleet"
    assert ds["jsonData"]["sslmode"] == "require"
    assert ds["jsonData"]["timescaledb"] is True
    assert ds["secureJsonData"] == {"password": PASSWORD}
    assert fake.folders["noisefleet"]["title"] == "noisefleet"
    for stored in fake.dashboards.values():
        assert stored["folderUid"] == "noisefleet"
        assert stored["overwrite"] is True
        assert "${DS_NOISEFLEET}" not in json.dumps(stored)
    for rule in fake.rules.values():
        assert rule["folderUID"] == "noisefleet"
        assert rule["data"][0]["datasourceUid"] == "noisefleet-pg"
    assert PASSWORD not in "\n".join(first)
    assert TOKEN not in "\n".join(first)

    fake.requests.clear()
    assert provision(url, tmp_path, "--token", TOKEN, "--timescaledb") == 0
    second = capsys.readouterr().out.splitlines()
    assert all(line.endswith(": unchanged") for line in second), second
    assert len(second) == len(first)
    assert fake.writes() == []
    assert all(r.method == "GET" for r in fake.requests)


def test_changes_are_updated_in_place_and_dry_run_writes_nothing(
    grafana: tuple[FakeGrafana, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, url = grafana
    (tmp_path / "token").write_text(TOKEN + "\n")
    assert provision(url, tmp_path, "--token-file", str(tmp_path / "token")) == 0
    capsys.readouterr()
    fake.dashboards["noisefleet-events"]["dashboard"]["title"] = "edited by hand"
    fake.rules["noisefleet-sensor-offline"]["for"] = "1h"
    fake.requests.clear()

    assert provision(url, tmp_path, "--token-file", str(tmp_path / "token"), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "dashboard noisefleet-events (noisefleet · Events): would be updated" in out
    assert "alert rule noisefleet-sensor-offline" in out
    assert out.count("would be") == 2
    assert fake.writes() == []

    # The datasource switched to TimescaleDB: updated, the stored password kept (not re-sent).
    assert provision(url, tmp_path, "--token-file", str(tmp_path / "token"), "--timescaledb") == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.endswith(": updated") for line in lines) == 3, lines
    puts = {(r.method, r.path): r.body for r in fake.writes()}
    assert "secureJsonData" not in puts[("PUT", "/api/datasources/uid/noisefleet-pg")]
    assert ("PUT", "/api/v1/provisioning/alert-rules/noisefleet-sensor-offline") in puts
    assert fake.datasources["noisefleet-pg"]["secureJsonData"] == {"password": PASSWORD}
    assert fake.rules["noisefleet-sensor-offline"]["for"] == "5m"


def test_token_from_the_environment(
    grafana: tuple[FakeGrafana, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, url = grafana
    monkeypatch.setenv("NOISEFLEET_GRAFANA_TOKEN", TOKEN)
    assert provision(url, tmp_path) == 0
    assert {r.authorization for r in fake.requests} == {f"Bearer {TOKEN}"}
    assert TOKEN not in capsys.readouterr().out


def test_basic_auth_from_a_file_instead_of_a_token(
    grafana: tuple[FakeGrafana, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The compose stack's first run: Grafana's admin user, before any service account."""
    fake, url = grafana
    fake.basic = "admin:adm-secret-789"
    credentials = tmp_path / "grafana-admin"
    credentials.write_text("admin:adm-secret-789\n")
    assert provision(url, tmp_path, "--basic-auth-file", str(credentials)) == 0
    expected = "Basic " + base64.b64encode(b"admin:adm-secret-789").decode()
    assert {r.authorization for r in fake.requests} == {expected}
    assert set(fake.dashboards) == {d.uid for d in load_dashboards()}
    capsys.readouterr()
    # A wrong password is one line without the password; a malformed file or two
    # credentials at once are refused before any request.
    credentials.write_text("admin:wrong-password-1\n")
    assert provision(url, tmp_path, "--basic-auth-file", str(credentials)) == 1
    err = capsys.readouterr().err.strip()
    assert "401 unauthorized" in err
    assert "wrong-password-1" not in err
    before = len(fake.requests)
    credentials.write_text("just-a-password\n")
    assert provision(url, tmp_path, "--basic-auth-file", str(credentials)) == 1
    assert "expected USER:PASSWORD" in capsys.readouterr().err
    assert provision(url, tmp_path, "--basic-auth-file", str(credentials), "--token", TOKEN) == 1
    assert "not both" in capsys.readouterr().err
    assert len(fake.requests) == before


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("401", "401 unauthorized: check the token"),
        ("403", "403 forbidden"),
        ("notjson", "the answer is not JSON"),
        ("wrong-token", "401 unauthorized"),
        ("slow", "no answer within 0.5 s"),
    ],
)
def test_grafana_failures_are_one_line(
    grafana: tuple[FakeGrafana, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    expected: str,
) -> None:
    fake, url = grafana
    fake.mode = "ok" if mode == "wrong-token" else mode
    token = "not-the-token" if mode == "wrong-token" else TOKEN
    assert provision(url, tmp_path, "--token", token, "--timeout-s", "0.5") == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == ""
    assert "\n" not in err
    assert err.startswith("noisefleet-server: grafana http://127.0.0.1:")
    assert expected in err, err
    assert token not in err
    assert PASSWORD not in err
    assert fake.writes() == []


def test_unreachable_grafana_and_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOISEFLEET_GRAFANA_TOKEN", raising=False)
    server, url = serve(FakeGrafana(token=TOKEN))
    server.shutdown()
    server.server_close()  # the port is now closed: connection refused
    assert provision(url, tmp_path, "--token", TOKEN) == 1
    err = capsys.readouterr().err.strip()
    assert "cannot reach Grafana" in err
    assert "\n" not in err
    assert TOKEN not in err
    assert provision(url, tmp_path) == 1
    assert "no token" in capsys.readouterr().err
    assert main(["grafana", "provision", "--url", url, "--token", "t",
                 "--datasource-url", "postgresql://u:inline@db/n"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "do not put the password in the URL" in err
    assert "inline" not in err


# ---- the dashboard and alert-rule JSON ------------------------------------------------------

PANEL_TYPES = {"timeseries", "table", "stat", "state-timeline", "piechart", "barchart"}
HISTORY = {"levels", "levels_between", "levels_1m", "levels_1h", "levels_1d",
           "energy_shares_1h", "lden_daily", "events"}  # fmt: skip
"""Views that grow with time: read only within the dashboard's range ($__timeFilter)."""


def public_names() -> set[str]:
    migrations = resources.files("noisefleet_server.db").joinpath("migrations")
    text = "\n".join(f.read_text() for f in migrations.iterdir() if f.name.endswith(".sql"))
    return set(re.findall(r"CREATE (?:OR REPLACE )?(?:VIEW|FUNCTION) noisefleet\.(\w+)", text))


def raw_dashboards() -> dict[str, Any]:
    folder = resources.files("noisefleet_server.grafana").joinpath("dashboards")
    return {f.name: json.loads(f.read_text()) for f in folder.iterdir() if f.name.endswith(".json")}


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel, target["rawSql"]


def test_dashboards_are_valid_and_read_only_the_public_views() -> None:
    names = public_names()
    assert {"levels_1m", "levels_1h", "levels_1d", "sites", "sensors", "alerts"} <= names
    found = raw_dashboards()
    assert set(found) == {"fleet.json", "site-levels.json", "events.json", "alerts.json"}
    for file, dashboard in found.items():
        assert dashboard["schemaVersion"] >= 39, file
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), file
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert "noisefleet.sites" in variables["site"]["query"]
        assert "noisefleet.sensors" in variables["sensor"]["query"]
        for panel, sql in queries(dashboard):
            where = f"{file} panel {panel['id']}"
            assert panel["type"] in PANEL_TYPES, where
            assert panel["datasource"]["uid"] == "${DS_NOISEFLEET}", where
            assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), where
            assert "noisefleet_store" not in sql, where
            used = set(re.findall(r"noisefleet\.(\w+)", sql))
            assert used <= names, f"{where}: {used - names}"
            if used & HISTORY:
                assert "$__timeFilter(" in sql, where
            # dB are energy-averaged, never arithmetically; 1-s levels only for short ranges.
            assert not re.search(r"avg\([^)]*_db", sql), where
            assert not re.search(r"noisefleet\.levels\b(?!_)", sql), where
            if "levels_between" in sql:
                assert "<= interval '30 minutes'" in sql, where


INTERVALS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> int:
    return int(text[:-1]) * INTERVALS[text[-1]]


def expand(sql: str, variables: list[dict[str, Any]], t_from: str, t_to: str, interval: str) -> str:
    """Grafana's PostgreSQL macros and template variables, as the datasource expands them."""
    values = {"site": ["riverside"], "sensor": ["s01", "s02"]}
    sql = sql.replace("$__interval", interval)
    sql = re.sub(r"\$__timeFilter\(([^()]*)\)", rf"\1 BETWEEN '{t_from}' AND '{t_to}'", sql)
    sql = sql.replace("$__timeFrom()", f"'{t_from}'").replace("$__timeTo()", f"'{t_to}'")

    def group(match: re.Match[str]) -> str:
        column, step = (part.strip() for part in match.group(2).split(","))
        bucket = f"floor(extract(epoch from {column})/{seconds(step)})*{seconds(step)}"
        return bucket + (' AS "time"' if match.group(1) else "")

    sql = re.sub(r"\$__timeGroup(Alias)?\(([^()]*)\)", group, sql)
    for variable in variables:
        chosen = values[variable["name"]]
        multi = variable["multi"] or variable["includeAll"]
        text = ",".join(f"'{v}'" for v in chosen) if multi else chosen[0]
        sql = sql.replace(f"${variable['name']}", text)
    assert "$" not in sql, sql
    return sql


RANGES = [
    ("2026-11-27T23:30:00Z", "2026-11-27T23:50:00Z", "1s"),
    ("2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z", "1m"),
    ("2026-11-01T00:00:00Z", "2026-11-30T00:00:00Z", "1h"),
    ("2025-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "1d"),
]


def test_every_panel_and_rule_query_runs_on_the_migrated_database(
    db: psycopg.Connection,
) -> None:
    db.execute(
        "INSERT INTO noisefleet_store.sites (site, kind, timezone, limits) VALUES"
        " ('riverside', 'real_estate', 'Europe/Berlin', '{\"day\": 55, \"night\": 45}')"
    )
    ran = 0
    for file, dashboard in raw_dashboards().items():
        variables = dashboard["templating"]["list"]
        for variable in variables:
            db.execute(expand(variable["query"], variables, *RANGES[0])).fetchall()
        for panel, sql in queries(dashboard):
            interval = panel.get("interval")
            for t_from, t_to, auto in RANGES:
                step = interval if interval and seconds(interval) > seconds(auto) else auto
                try:
                    db.execute(expand(sql, variables, t_from, t_to, step)).fetchall()
                except psycopg.Error as error:
                    pytest.fail(f"{file} panel {panel['id']} ({t_from}..{t_to}): {error}")
                ran += 1
    for rule in load_alert_rules("noisefleet"):
        sql = rule.body["data"][0]["model"]["rawSql"]
        window = rule.body["data"][0]["relativeTimeRange"]["from"]
        t_to = "2026-11-27T23:50:00Z"
        t_from = f"2026-11-27T23:{50 - window // 60:02d}:00Z"
        db.execute(expand(sql, [], t_from, t_to, "1m")).fetchall()
        ran += 1
    assert ran > 4 * 20
