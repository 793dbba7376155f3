"""What an operator sees, in a real browser (Debian chromium + Playwright, ``browser.py``),
against ``noisefleet-dashboard run`` and a PostgreSQL filled by the test:

- site ``tower`` (Europe/Berlin, limits 55/50/45 dB, on the map): sensor ``roof`` with the last
  hour of 1-s levels (30 min at 50 dB, 30 min at 60 dB: energy mean 57.4 dB), online, outbox
  3, one firing alert; sensor ``yard`` with an hour at 45 dB that ended 20 min ago: offline;
- site ``depot`` (UTC) of another operator: sensor ``gate``, 10 min at 70 dB;
- a pending sensor ``x1`` of the unregistered site ``annex``;
- roof's heartbeats: ten in the ten minutes before the last (``sensor_seed``), then the
  contract's example (CPU 37.5 %, outbox 3); a broker for the Sensor page's pushes (no agent);
- users ``admin``, ``olga`` (operator of tower), ``oscar`` (operator of depot), ``vera``
  (viewer of tower), all with ``PASSWORD``.

One database, one dashboard process and one browser serve the module; every test gets a fresh
browser context (signed out). Screenshots: ``<tmp>/screenshots`` and the stable folder
(``browser.stable_copy``). A new page is one more test: ``dash.go("Events")``, check, shoot.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import Browser, expect

from noisefleet_core.contract.commands import StateReport, encode_command
from noisefleet_core.contract.topics import topic
from noisefleet_dashboard import accounts
from noisefleet_dashboard.compliance import MARKS, PERIODS
from noisefleet_server.db.rollups_sql import run_rollup_pass
from noisefleet_server.registry import add_site, assign_sensor
from noisefleet_server.state_reports import ingest_state
from tests.dashboard.browser import (
    TIMEOUT_MS,
    Dashboard,
    chromium,
    chromium_path,
    dashboard_server,
    stable_copy,
)
from tests.dashboard.seed import PASSWORD
from tests.dashboard.sensor_seed import seed_heartbeats
from tests.server.alert_harness import heartbeat_payload, ingest
from tests.server.helpers import envelope, level_record, levels_payload
from tests.support.mosquitto import Mosquitto
from tests.support.postgres import Postgres

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOF_LAEQ = 10 * math.log10((10**5.0 + 10**6.0) / 2)  # 57.40 dB
TOWER_ZONE = ZoneInfo("Europe/Berlin")
LIMITS = {"day": 55.0, "evening": 50.0, "night": 45.0}


@dataclass(frozen=True)
class BrowserFleet:
    url: str
    end: datetime
    """The last minute of roof's levels (the fleet's "now" when seeded)."""


def _minutes(
    site: str, sensor: str, t0: datetime, levels: list[float], first_sequence: int = 1
) -> list[tuple[str, bytes]]:
    messages = []
    for minute, level in enumerate(levels):
        start = t0 + timedelta(minutes=minute)
        records = [level_record(start + timedelta(seconds=k), level) for k in range(60)]
        sequence = first_sequence + minute
        messages.append(
            levels_payload(site, sensor, sequence, records, sent_at=start + timedelta(seconds=60))
        )
    return messages


def _status(site: str, sensor: str, sequence: int, sent: datetime) -> tuple[str, bytes]:
    data = envelope(site, sensor, sequence, "status", state="online", reason=None, sent_at=sent)
    return topic(site, sensor, "status"), json.dumps(data).encode()


async def _register(url: str) -> None:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    async with conn:
        await add_site(
            conn,
            "tower",
            kind="real_estate",
            timezone="Europe/Berlin",
            name="Tower A",
            lat=52.52,
            lon=13.40,
            limits=LIMITS,
        )
        await add_site(conn, "depot", kind="city", timezone="UTC", limits={"day": 65})
        for site, sensor in (("tower", "roof"), ("tower", "yard"), ("depot", "gate")):
            await assign_sensor(conn, site, sensor)
        while (await run_rollup_pass(conn, 10_000)).hours:
            pass


def seed(url: str, end: datetime) -> BrowserFleet:
    t0 = end - timedelta(hours=1)
    yard_t0 = t0 - timedelta(minutes=20)
    ingest(
        url,
        [
            _status("tower", "roof", 1, t0),
            *_minutes("tower", "roof", t0, [50.0] * 30 + [60.0] * 30, first_sequence=2),
            heartbeat_payload(end, 62, site="tower", sensor="roof"),
            _status("tower", "yard", 1, yard_t0),
            *_minutes("tower", "yard", yard_t0, [45.0] * 60, first_sequence=2),
            *_minutes("depot", "gate", t0, [70.0] * 10),
            _status("annex", "x1", 1, t0),
        ],
    )
    seed_heartbeats(url, end)
    asyncio.run(_register(url))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO noisefleet_store.alerts (rule_id, sensor_id, state, kind, severity,"
            " pending_since, fired_at, message) SELECT 'loud', sensor_id, 'firing', 'level',"
            " 'warning', %s, %s, 'LAeq above 55 dB' FROM noisefleet_store.sensors"
            " WHERE site = 'tower' AND sensor = 'roof'",
            (end - timedelta(minutes=20), end - timedelta(minutes=19)),
        )
        accounts.add_user(conn, "admin", PASSWORD, "admin")
        accounts.add_user(conn, "olga", PASSWORD, "operator", ["tower"])
        accounts.add_user(conn, "oscar", PASSWORD, "operator", ["depot"])
        accounts.add_user(conn, "vera", PASSWORD, "viewer", ["tower"])
    return BrowserFleet(url, end)


@pytest.fixture(scope="module")
def browser_fleet(postgres: Postgres) -> BrowserFleet:
    chromium_path()  # fail (or skip) before seeding when there is no browser
    url = postgres.create_database(f"b_{uuid.uuid4().hex[:12]}")
    env = {**os.environ, "NOISEFLEET_DATABASE_URL": url}
    migrate = [sys.executable, "-m", "noisefleet_server.cli", "migrate"]
    subprocess.run(migrate, env=env, check=True, capture_output=True)
    return seed(url, datetime.now(UTC).replace(second=0, microsecond=0))


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    shots = tmp_path_factory.mktemp("screenshots", numbered=False)
    yield shots
    stable_copy(shots)


@pytest.fixture(scope="module")
def browser_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path_factory.mktemp("broker")) as broker:
        yield broker


@pytest.fixture(scope="module")
def dashboard_url(
    browser_fleet: BrowserFleet,
    browser_broker: Mosquitto,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOISEFLEET_")}
    env.update(NOISEFLEET_DATABASE_URL=browser_fleet.url, NOISEFLEET_DASHBOARD_CACHE_TTL_S="1")
    env.update(
        NOISEFLEET_MQTT_URL=f"mqtt://{browser_broker.host}:{browser_broker.port}",
        NOISEFLEET_DASHBOARD_COMMAND_WAIT_S="0.5",
    )
    log = tmp_path_factory.mktemp("dashboard") / "run.log"
    with dashboard_server(env, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser(dashboard_url: str) -> Iterator[Browser]:
    # after the seeding: Playwright's sync API keeps an event loop running, so asyncio.run fails
    with chromium() as browser:
        yield browser


@pytest.fixture
def dash(browser: Browser, dashboard_url: str, screenshots: Path) -> Iterator[Dashboard]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        dashboard = Dashboard(context.new_page(), dashboard_url, screenshots)
        dashboard.open()
        yield dashboard
    finally:
        context.close()


def _coverage_today(fleet: BrowserFleet, start: datetime, stop: datetime) -> tuple[float, float]:
    """Bounds (in %) of roof's coverage today as the page computes it somewhere in
    [start, stop]: measured seconds since local midnight / seconds since local midnight."""

    def share(now: datetime) -> float:
        local = now.astimezone(TOWER_ZONE)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        measured = (fleet.end - max(midnight, fleet.end - timedelta(hours=1))).total_seconds()
        return 100 * max(measured, 0) / max((now - midnight).total_seconds(), 1)

    values = (share(start), share(stop))
    return min(values), max(values)


def test_sign_in_refuses_a_wrong_password_then_lands_on_fleet(dash: Dashboard):
    dash.title("noisefleet — sign in")
    expect(dash.page.get_by_role("button", name="Deploy")).to_have_count(0)  # toolbar: viewer
    dash.screenshot("01-sign-in")
    dash.sign_in("olga", "not the password")
    expect(dash.alert("error")).to_have_text(accounts.WRONG)
    dash.title("noisefleet — sign in")
    dash.screenshot("02-sign-in-refused")
    dash.sign_in("olga", PASSWORD)
    dash.title("Fleet")
    expect(dash.page.get_by_text("Signed in as olga (operator)")).to_be_visible()


def test_fleet_shows_each_sensors_state_and_numbers(dash: Dashboard, browser_fleet: BrowserFleet):
    start = datetime.now(UTC) - timedelta(seconds=1)
    dash.sign_in("olga", PASSWORD)
    dash.title("Fleet")
    dash.expect_metrics({"Sensors online": "1 / 2", "Open alerts": "1", "Sites": "1"})
    rows = {row["sensor"]: row for row in dash.table(0)}
    stop = datetime.now(UTC)
    assert set(rows) == {"roof", "yard"}  # not oscar's depot
    roof, yard = rows["roof"], rows["yard"]
    assert roof["site"] == "tower"
    assert roof["state"] == "🟢 online"
    assert yard["state"] == "🔴 offline"
    assert yard["last seen"] in {"20 min ago", "21 min ago", "22 min ago"}
    assert roof["outbox"] == "3"
    assert roof["model"] == "urban-sed-int8 (9f86d081)"
    assert (roof["open alerts"], yard["open alerts"]) == ("1", "0")
    low, high = _coverage_today(browser_fleet, start, stop)
    shown = float(roof["coverage today"].removesuffix(" %"))
    assert low - 0.5 <= shown <= high + 0.5, (shown, low, high)
    expect(dash.page.get_by_role("heading", name="Map")).to_be_visible()
    dash.screenshot("03-fleet-operator")
    dash.sign_out()
    dash.screenshot("04-signed-out")


def test_admin_sees_every_site_and_the_pending_sensor(dash: Dashboard):
    dash.sign_in("admin", PASSWORD)
    dash.title("Fleet")
    dash.expect_metrics({"Sensors online": "1 / 3", "Open alerts": "1", "Sites": "2"})
    assert [(r["site"], r["sensor"]) for r in dash.table(0)] == [
        ("depot", "gate"),
        ("tower", "roof"),
        ("tower", "yard"),
    ]
    pending = dash.table(1)
    assert [(r["site"], r["sensor"], r["site registered"]) for r in pending] == [
        ("annex", "x1", "false")
    ]
    expect(dash.page.get_by_text("noisefleet-server sensors assign SITE SENSOR")).to_be_visible()
    dash.screenshot("05-fleet-admin")


def test_site_shows_the_laeq_the_chart_and_lden(dash: Dashboard, browser_fleet: BrowserFleet):
    dash.sign_in("vera", PASSWORD)
    dash.go("Site")
    assert f"{ROOF_LAEQ:.1f}" == "57.4"
    dash.expect_metrics({"LAeq over the span": "57.4 dB", "Measured": "4 %"})  # 1 h of 24 h
    caption = dash.page.locator('[data-testid="stCaptionContainer"]').first
    expect(caption).to_contain_text("Limits: day 55 dB, evening 50 dB, night 45 dB")
    expect(caption).to_contain_text("resolution 1 min · 60 points")
    expect(dash.page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    expect(
        dash.page.locator('[data-testid="stVegaLiteChart"] canvas, svg.marks').first
    ).to_be_visible()
    with psycopg.connect(browser_fleet.url) as conn:
        expected = conn.execute(
            "SELECT day, lday_db, levening_db, lnight_db, lden_db, coverage"
            " FROM noisefleet.lden_daily WHERE site = 'tower' AND sensor = 'roof' ORDER BY day"
        ).fetchall()
    assert expected, "the seeded hour makes at least one Lden day"
    shown = dash.table(0)
    assert [row["day"] for row in shown] == [str(day[0]) for day in expected]
    for row, (_, *levels, coverage) in zip(shown, expected, strict=True):
        for column, level in zip(("Lday", "Levening", "Lnight", "Lden"), levels, strict=True):
            if level is None:
                assert row[column] in {"", "—"}, (column, row)
            else:
                assert float(row[column]) == pytest.approx(level, abs=0.05), (column, row)
        assert row["coverage"] == f"{100 * coverage:.0f} %"
        # which local day and period hold the hour depends on the clock (days run 07:00–07:00)
        over = [p for p, lv in zip(PERIODS, levels, strict=False) if lv and lv > LIMITS[p]]
        if over:
            assert row["compliance"] == f"❌ exceeded ({', '.join(over)})", row
        else:
            assert row["compliance"] in MARKS.values(), row
    dash.screenshot("06-site")


def test_a_viewer_opening_another_operators_site_by_url_is_refused(dash: Dashboard):
    dash.sign_in("vera", PASSWORD)
    dash.go("Site")
    # a link to oscar's depot opened in the signed-in tab (loading a URL would sign out:
    # the session lives in the tab), then any click reruns the page with it
    dash.page.evaluate("history.pushState({}, '', '?site=depot')")
    dash.choose("Span", "6 hours")
    expect(dash.alert("error")).to_contain_text("You may not see site 'depot'")
    expect(dash.page.locator('[data-testid="stDataFrame"]')).to_have_count(0)
    dash.screenshot("07-site-refused")


def test_alerts_page_lists_the_open_alert_and_offers_acknowledgement(dash: Dashboard):
    dash.sign_in("olga", PASSWORD)
    dash.go("Alerts")
    dash.expect_metrics({"Alerts": "1"})
    [row] = dash.table(0)
    assert (row["rule"], row["state"], row["site"], row["sensor"]) == (
        "loud",
        "🔴 firing",
        "tower",
        "roof",
    )
    expect(dash.page.get_by_role("button", name="Acknowledge")).to_be_visible()
    dash.screenshot("08-alerts-operator")


def test_a_viewer_sees_alerts_but_cannot_acknowledge(dash: Dashboard):
    dash.sign_in("vera", PASSWORD)
    dash.go("Alerts")
    dash.expect_metrics({"Alerts": "1"})
    expect(dash.page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    dash.screenshot("09-alerts-viewer")


def test_events_complaint_and_reports_pages_open_for_the_operators_site(dash: Dashboard):
    dash.sign_in("olga", PASSWORD)
    for title, shot in (("Events", "10-events"), ("Reports and export", "12-reports")):
        dash.go(title)
        dash.screenshot(shot)
        expect(dash.page.locator('[data-testid="stException"]')).to_have_count(0)
        errors = dash.alert("error")
        assert errors.count() == 0, f"{title}: {errors.all_inner_texts()}"
    dash.go("Events")
    dash.expect_metrics({"Events": "0"})  # the seeded fleet has levels and an alert, no events
    # The complaint check opens at "now" ± 30 min: the window holds the seeded hour's last
    # 30 min at 60 dB (the 50-dB half ended more than 30 min ago), half the window measured;
    # even silent gaps leave 60 + 10·lg(0.5) = 57 dB above any of the limits: exceeded.
    dash.go("Complaint check")
    verdict = dash.alert("error")
    expect(verdict).to_have_count(1)
    assert re.fullmatch(
        r"LAeq over \d\d:\d\d–\d\d:\d\d = 60\.0 dB\(A\) > (day|evening|night) limit"
        r" (55|50|45) dB\(A\): exceeded",
        verdict.inner_text().strip(),
    ), verdict.inner_text()
    dash.screenshot("11-complaint")


def _answer_last_command(url: str, accepted: bool, reason: str | None) -> None:
    """What the agent's state report does when it comes: the server's ingest of it."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT request_id::text FROM noisefleet.sensor_commands ORDER BY requested_at DESC"
        ).fetchone()
    assert row is not None
    report = StateReport(row[0], accepted, reason, {"gate_level_db": 45}, None, datetime.now(UTC))

    async def store() -> None:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        async with conn:
            assert await ingest_state(conn, topic("tower", "roof", "state"), encode_command(report))

    # in a thread: Playwright's sync API keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, store()).result()


def test_sensor_page_shows_health_numbers_and_a_pushs_answer(
    dash: Dashboard, browser_fleet: BrowserFleet
):
    dash.sign_in("olga", PASSWORD)
    dash.go("Sensor")
    dash.expect_metrics(
        {
            "CPU": "37.5 %",
            "Temperature": "52.1 °C",
            "Free disk": "21.5 GB",
            "Outbox backlog": "3",
            "Clock": "synced",
        }
    )
    expect(dash.page.get_by_text("11 buckets of 1 min · 11 heartbeats")).to_be_visible()
    expect(dash.page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(5)
    expect(dash.page.get_by_text("urban-sed-int8 (9f86d081)")).to_be_visible()
    dash.page.get_by_role("textbox", name="Changes").fill("gate_level_db=45")
    dash.page.get_by_role("button", name="Push settings").click()
    dash.wait_idle()
    expect(dash.alert("info").filter(has_text="no answer within 0.5 s")).to_have_count(1)
    [command] = dash.table(1)
    assert (command["kind"], command["what"], command["answer"]) == (
        "set",
        "gate_level_db=45",
        "⏳ pending",
    )
    dash.screenshot("13-sensor-pending")
    _answer_last_command(browser_fleet.url, True, None)
    dash.page.get_by_role("button", name="Refresh").click()
    dash.wait_idle()
    commands = dash.page.locator('[data-testid="stDataFrame"]').nth(1)
    expect(commands.locator("td").filter(has_text="✅ applied")).to_have_count(1)
    [command] = dash.table(1)
    assert command["answer"] == "✅ applied"
    [setting] = dash.table(0)
    assert (setting["setting"], setting["in force"], setting["applied"]) == (
        "gate_level_db",
        "45",
        "✅",
    )
    dash.screenshot("14-sensor-applied")


def test_a_viewer_sees_the_sensor_read_only(dash: Dashboard):
    dash.sign_in("vera", PASSWORD)
    dash.go("Sensor")
    dash.expect_metrics({"CPU": "37.5 %"})
    expect(dash.page.get_by_text("Read only: viewers cannot change sensors.")).to_be_visible()
    expect(dash.page.get_by_role("button", name="Push settings")).to_have_count(0)
    expect(dash.page.locator('[data-testid="stSidebarNav"]').get_by_text("Admin")).to_have_count(0)


def test_an_admin_adds_a_user_who_can_then_sign_in(dash: Dashboard):
    dash.sign_in("admin", PASSWORD)
    dash.go("Admin")
    dash.page.get_by_role("textbox", name="Username").fill("nina")
    dash.page.get_by_role("textbox", name="Password", exact=True).fill("nina's long password")
    dash.page.get_by_role("combobox", name="Sites").first.click()
    dash.page.keyboard.type("tower")
    option = dash.page.get_by_role("option").filter(has_text="tower")
    expect(option).to_have_count(1)
    option.click()
    dash.page.keyboard.press("Escape")
    dash.page.get_by_role("button", name="Add user").click()
    dash.wait_idle()
    expect(dash.alert("success")).to_have_text("User nina added (viewer).")
    users = {row["user"]: row for row in dash.table(2)}
    assert (users["nina"]["role"], users["nina"]["sites"]) == ("viewer", "tower")
    dash.screenshot("15-admin")
    dash.sign_out()
    # the Admin page's widgets go once the rerun has finished (its password field too)
    expect(dash.page.get_by_role("button", name="Add user")).to_have_count(0)
    dash.wait_idle()
    dash.sign_in("nina", "nina's long password")
    dash.title("Fleet")
    assert {row["site"] for row in dash.table(0)} == {"tower"}
