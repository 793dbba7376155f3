"""``noisefleet-server alerts …`` as an operator runs it: replay of a draft rule over stored data
(nothing written, nothing notified), rule import with validation, templates, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.server.alert_harness import (
    SITE,
    Clock,
    alerts,
    config_for,
    evaluate,
    ingest,
    minutes_of_records,
    write_rules,
)
from tests.server.conftest import SERVER

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

DRAFT = """
[[rules]]
id = "draft-loud"
kind = "level"
metric = "laeq"
window_s = 60
limit_db = 70.0
"""


def _cli(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOISEFLEET_DATABASE_URL": url, "NOISEFLEET_MQTT_URL": "mqtt://x:1"}
    result = subprocess.run(
        [*SERVER, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_replay_says_what_a_draft_would_fire_without_writing(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    db.execute(
        "INSERT INTO noisefleet_store.sites (site, kind, timezone) VALUES (%s, 'city', 'UTC')",
        (SITE,),
    )
    levels = [60.0] * 1800
    levels[600:720] = [75.0] * 120  # 08:10–08:12 loud
    levels[1500:1560] = [72.0] * 60  # 08:25 loud
    ingest(database_url, minutes_of_records(T0, levels))
    draft = write_rules(tmp_path / "draft.toml", DRAFT)
    out = _cli(
        database_url,
        "alerts",
        "replay",
        "--rule",
        str(draft),
        "--from",
        "2026-11-24T08:00:00Z",
        "--to",
        "2026-11-24T09:00:00+00:00",
        "--json",
    ).stdout.splitlines()
    found = [json.loads(line) for line in out[:-1]]
    assert [(a["fired_at"], a["resolved_at"]) for a in found] == [
        ("2026-11-24T08:11:00.000Z", "2026-11-24T08:13:00.000Z"),
        ("2026-11-24T08:26:00.000Z", "2026-11-24T08:27:00.000Z"),
    ]
    assert out[-1].startswith("2 alert(s) from 1 rule(s)")
    assert alerts(db) == []  # nothing written
    # switched on, the live engine raises the same alerts
    config = config_for(database_url, draft)
    evaluate(config, Clock(T0 + timedelta(minutes=31)))
    live = [(a["fired_at"], a["resolved_at"]) for a in alerts(db)]
    assert live == [
        (T0.replace(minute=11), T0.replace(minute=13)),
        (T0.replace(minute=26), T0.replace(minute=27)),
    ]


def test_rules_import_validate_and_errors(database_url: str, tmp_path: Path) -> None:
    good = write_rules(tmp_path / "good.toml", DRAFT)
    assert "1 rule(s), valid" in _cli(database_url, "alerts", "rules", "validate", str(good)).stdout
    bad = write_rules(tmp_path / "bad.toml", DRAFT.replace("limit_db = 70.0", 'limit_db = "loud"'))
    result = _cli(database_url, "alerts", "rules", "validate", str(bad), check=False)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "limit_db" in result.stderr
    assert "draft-loud" in result.stderr
    _cli(database_url, "alerts", "rules", "import", str(good), "--user", "ops")
    listed = _cli(database_url, "alerts", "rules", "list").stdout
    assert "draft-loud" in listed
    exported = json.loads(_cli(database_url, "alerts", "rules", "export").stdout)
    assert [r["id"] for r in exported["rules"]] == ["draft-loud"]
    # a rule that clashes with nothing but names an unknown notifier is refused
    unknown = write_rules(
        tmp_path / "n.toml", DRAFT.replace("draft-loud", "x") + 'notify = ["pager"]\n'
    )
    result = _cli(database_url, "alerts", "rules", "import", str(unknown), check=False)
    assert result.returncode == 1
    assert "unknown notifier(s) pager" in result.stderr
    missing = _cli(
        database_url,
        "alerts",
        "replay",
        "--rule",
        str(tmp_path / "nope.toml"),
        "--from",
        "2026-11-24T08:00:00Z",
        "--to",
        "2026-11-24T09:00:00Z",
        check=False,
    )
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr
    naive = _cli(
        database_url,
        "alerts",
        "replay",
        "--rule",
        str(good),
        "--from",
        "2026-11-24T08:00:00",
        "--to",
        "2026-11-24T09:00:00Z",
        check=False,
    )
    assert "add a UTC offset" in naive.stderr


def test_template_expands_to_rules_that_import(database_url: str) -> None:
    listing = _cli(database_url, "alerts", "template").stdout
    assert "ta-laerm" in listing
    toml_text = _cli(
        database_url,
        "alerts",
        "template",
        "ta-laerm",
        "--param",
        "area=general_residential",
        "--site",
        SITE,
    ).stdout
    assert 'id = "ta-laerm.night"' in toml_text
    result = _cli(
        database_url, "alerts", "template", "ta-laerm", "--param", "area=downtown", check=False
    )
    assert result.returncode == 1
    assert "area" in result.stderr
    _cli(database_url, "alerts", "template", "ta-laerm", "--site", SITE, "--import")
    exported = json.loads(_cli(database_url, "alerts", "rules", "export").stdout)
    assert {r["id"] for r in exported["rules"]} >= {"ta-laerm.day", "ta-laerm.night"}


def test_validate_needs_no_database_and_the_shipped_examples_are_valid() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOISEFLEET_")}
    example = Path(__file__).resolve().parents[2] / "deploy" / "server" / "rules.toml"
    result = subprocess.run(
        [*SERVER, "alerts", "rules", "validate", str(example)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "7 rule(s), valid" in result.stdout
