"""The whole chain with real components, from a sound to what an operator sees:

1. a recording built here (16 kHz, calibration offset 100 dB: dB SPL = dBFS + 100): a 50 dB(A)
   pink-noise background, a 12-s wailing siren (700–1400 Hz, 0.25 sweeps/s, odd harmonics) at
   20–32 s, 60 s of 85 dB(A) pink noise at 50–110 s, then 70 s of background; the levels are
   set by the IEC A-weighting formula, independently of the meter under test;
2. the site, the sensor and two alert rules registered through ``noisefleet-server``'s CLI
   (``sites add``, ``sensors assign``, ``alerts rules import``): LAeq over 60 s above 80 dB(A),
   and a siren count of at least one (``event_count`` over 5 min, more than 0);
3. ``noisefleet-edge run`` measuring the file as fast as it can (file source speed 0) and
   publishing to a real mosquitto; ``noisefleet-server run`` ingesting into a real PostgreSQL,
   evaluating the rules and POSTing signed notifications to a webhook receiver in the test;
4. the dashboard (``noisefleet-dashboard run``) in Debian's chromium (Playwright): an operator
   signs in, the Events page lists the siren with its local time, the Alerts page both alerts.
   Screenshots: ``<tmp>/screenshots`` and the stable folder (``browser.stable_copy``).

Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import psycopg
import pytest
import soundfile as sf
from playwright.sync_api import expect

from noisefleet_core.acoustics.weighting import Weighting, analog_response_db
from noisefleet_dashboard import accounts
from tests.dashboard.browser import (
    TIMEOUT_MS,
    Dashboard,
    chromium,
    chromium_path,
    dashboard_server,
    stable_copy,
)
from tests.edge.agent.agent_helpers import SITE, AgentProcess, file_sensor, write_config
from tests.server.conftest import SERVER, ServerProcess
from tests.server.helpers import wait_for
from tests.server.notify_support import SECRET, WebhookReceiver, decoded
from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FloatArray = npt.NDArray[np.float64]
FS = 16_000
OFFSET_DB = 100.0
SENSOR = "s01"
BACKGROUND_DB, LOUD_DB, SIREN_DB = 50.0, 85.0, 78.0
SIREN_S = (20, 32)
LOUD_S = (50, 110)
LENGTH_S = 180
"""Long enough that data goes on past the end of the minute holding the loud part's end: the
engine samples a minute only once data reaches its end (a stream's last, partial minute is
never sampled), so the loud part's last minute must not be the recording's last."""
LIMIT_DB = 80.0
PASSWORD = "a long enough password 42"
ZONE = ZoneInfo("Europe/Berlin")

RULES = f"""
[[rules]]
id = "loud-minute"
name = "Loud minute"
kind = "level"
metric = "laeq"
window_s = 60
limit_db = {LIMIT_DB}
release_s = 3600

[[rules]]
id = "siren-heard"
name = "Siren heard"
kind = "event_count"
labels = ["siren"]
min_confidence = 0.5
window_s = 300
limit = 0
release_s = 3600
"""


# -- the recording ---------------------------------------------------------------------------


def a_weighted_db(x: FloatArray) -> float:
    """LAeq of ``x`` by the IEC 61672 A-weighting formula on its spectrum (AES17 dBFS: a
    full-scale sine is 0 dBFS) plus the calibration offset."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.size, 1 / FS)
    gain = np.zeros_like(freqs)
    gain[1:] = 10 ** (analog_response_db(freqs[1:], Weighting.A) / 10)
    mean_square = 2 * float(np.sum(np.abs(spectrum) ** 2 * gain)) / x.size**2
    return 10 * np.log10(2 * mean_square) + OFFSET_DB


def at_level(x: FloatArray, level_db: float) -> FloatArray:
    return np.asarray(x * 10 ** ((level_db - a_weighted_db(x)) / 20), dtype=np.float64)


def pink_noise(rng: np.random.Generator, seconds: float) -> FloatArray:
    n = round(seconds * FS)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / FS)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    return np.asarray(np.fft.irfft(spectrum, n), dtype=np.float64)


def wailing_siren(seconds: float) -> FloatArray:
    """A wail: the pitch rises 700 → 1400 Hz in 60 % of each 4-s cycle and falls back, with odd
    harmonics (an electronic siren's square-ish tone), faded in and out over 0.2 s."""
    t = np.arange(round(seconds * FS)) / FS
    cycle = (0.25 * t) % 1.0
    shape = np.where(cycle < 0.6, cycle / 0.6, 1 - (cycle - 0.6) / 0.4)
    shape = shape * shape * (3 - 2 * shape)
    phase = 2 * np.pi * np.cumsum(700 + 700 * shape) / FS
    tone = np.sin(phase) + np.sin(3 * phase) / 3 + np.sin(5 * phase) / 5
    return np.asarray(tone * np.minimum(1, np.minimum(t, t[::-1]) / 0.2), dtype=np.float64)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(12)
    x = at_level(pink_noise(rng, LENGTH_S), BACKGROUND_DB)
    a, b = SIREN_S
    x[a * FS : b * FS] += at_level(wailing_siren(b - a), SIREN_DB)
    a, b = LOUD_S
    x[a * FS : b * FS] += at_level(pink_noise(rng, b - a), LOUD_DB)
    path = tmp_path_factory.mktemp("audio") / "siren-and-loud-minute.wav"
    sf.write(path, x, FS, "PCM_24")
    return path


# -- the server side -------------------------------------------------------------------------


def server_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*SERVER, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"noisefleet-server {' '.join(args)}: {done.stderr}"
    return done.stdout


def server_config(tmp_path: Path, hook: WebhookReceiver) -> Path:
    (tmp_path / "hook-secret").write_text(SECRET)
    config = tmp_path / "server.toml"
    config.write_text(
        f"""
[alerts]
interval_s = 0.2

[notify]
interval_s = 0.5

[notifiers.ops]
kind = "webhook"
url = "{hook.url}"
secret_file = "hook-secret"
first_backoff_s = 0.2
max_backoff_s = 1.0
"""
    )
    return config


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def firing(hook: WebhookReceiver) -> dict[str, dict[str, Any]]:
    """The first firing notification of each rule, by rule id (2xx answered)."""
    found: dict[str, dict[str, Any]] = {}
    for post in list(hook.posts):
        body = decoded(post.body)
        if 200 <= post.status < 300 and body["event"] == "firing":
            found.setdefault(body["rule_id"], body)
    return found


def both_firing(hook: WebhookReceiver) -> dict[str, dict[str, Any]] | None:
    found = firing(hook)
    return found if {"loud-minute", "siren-heard"} <= set(found) else None


def minute_laeqs(db: psycopg.Connection) -> list[float]:
    """LAeq of each clock minute at least half measured, in order (what a 60-s rolling rule
    on the minute grid sees), from the stored 1-s records."""
    rows = db.execute(
        "SELECT 10 * log(avg(power(10, laeq_db / 10))) FROM noisefleet.levels"
        " GROUP BY date_trunc('minute', start) HAVING sum(duration_s) >= 30"
        " ORDER BY date_trunc('minute', start)"
    ).fetchall()
    return [float(r[0]) for r in rows]


def minute_laeq(db: psycopg.Connection, start: datetime) -> float:
    """LAeq of the clock minute from ``start``, from the stored 1-s records."""
    row = db.execute(
        "SELECT 10 * log(avg(power(10, laeq_db / 10))) FROM noisefleet.levels"
        " WHERE start >= %s AND start < %s",
        (start, start + timedelta(minutes=1)),
    ).fetchone()
    assert row is not None
    assert row[0] is not None, f"no records in the minute from {start}"
    return float(row[0])


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the test --------------------------------------------------------------------------------


def test_a_siren_and_a_loud_minute_reach_webhook_and_dashboard(
    start_server: Callable[..., ServerProcess],
    broker: Mosquitto,
    db: psycopg.Connection,
    database_url: str,
    hook: WebhookReceiver,
    recording: Path,
    tmp_path: Path,
) -> None:
    chromium_path()  # fail (or skip when opted out) before anything runs without a browser
    # Registered before the server starts, so the rules are in force when the first data comes
    # (rules loaded later evaluate only data that arrives after them: docs/alerts.md).
    env = {**os.environ, "NOISEFLEET_DATABASE_URL": database_url}
    server_cli(
        env, "sites", "add", SITE, "--kind", "city", "--timezone", "Europe/Berlin",
        "--name", "Riverside Park", "--limit", "day=55",
    )  # fmt: skip
    server_cli(env, "sensors", "assign", SITE, SENSOR)
    (tmp_path / "rules.toml").write_text(RULES)
    server_cli(env, "alerts", "rules", "import", str(tmp_path / "rules.toml"))
    listed = server_cli(env, "alerts", "rules", "list")
    assert "loud-minute" in listed, listed
    assert "siren-heard" in listed, listed
    server = start_server(args=("--config", str(server_config(tmp_path, hook))))

    sensor = {
        **file_sensor(SENSOR, recording, speed=0.0),
        "calibration_offset_db": OFFSET_DB,
        "settings": {"levels_batch_s": 5},
    }
    config = write_config(tmp_path / "edge.toml", broker.port, [sensor], heartbeat_s=1)
    started = datetime.now(UTC)
    with AgentProcess(config) as agent:
        assert agent.wait(90) == 0, agent.stderr[-3000:]

    # -- the database holds what the recording holds
    wait_for(
        lambda: db.execute("SELECT count(*) FROM noisefleet.levels").fetchone() == (LENGTH_S,),
        timeout_s=30,
        what="every 1-s level record",
    )
    start_row = db.execute("SELECT min(start) FROM noisefleet.levels").fetchone()
    assert start_row is not None
    t0: datetime = start_row[0]
    assert started - timedelta(seconds=5) <= t0 <= started + timedelta(seconds=30)
    loud = db.execute(
        "SELECT 10 * log(avg(power(10, laeq_db / 10))) FROM noisefleet.levels"
        " WHERE start >= %s AND start < %s",
        (t0 + timedelta(seconds=LOUD_S[0]), t0 + timedelta(seconds=LOUD_S[1])),
    ).fetchone()
    assert loud is not None
    assert float(loud[0]) == pytest.approx(LOUD_DB, abs=0.5)
    wait_for(
        lambda: (
            db.execute(
                "SELECT count(*) FROM noisefleet.events WHERE label = 'siren' AND final"
            ).fetchone()
            == (1,)
        ),
        timeout_s=30,
        what="the siren event",
    )
    sirens = db.execute(
        "SELECT label, start, duration_s, laeq_db FROM noisefleet.events WHERE label = 'siren'"
    ).fetchall()
    assert len(sirens) == 1, f"one siren, not split: {sirens}"
    [(_, siren_start, siren_duration, siren_laeq)] = sirens
    assert abs((siren_start - t0).total_seconds() - SIREN_S[0]) <= 1.0
    assert siren_duration == pytest.approx(SIREN_S[1] - SIREN_S[0], abs=1.0)
    assert siren_laeq > SIREN_DB  # the siren on top of the background
    assert db.execute("SELECT count(*) FROM noisefleet.dead_letters").fetchone() == (0,)

    # -- both rules fired and the webhook received both notifications
    bodies = wait_for(
        lambda: both_firing(hook),
        timeout_s=60,
        what=f"both firing notifications (server log {server.log_path})",
    )
    posts = [p for p in hook.posts if 200 <= p.status < 300]
    assert all(p.signed for p in posts), "every POST carries a valid signature"
    level, siren = bodies["loud-minute"], bodies["siren-heard"]
    for body in (level, siren):
        assert (body["site"], body["sensor"]) == (SITE, SENSOR)
        assert body["late"] is False
    assert (level["rule_name"], level["kind"]) == ("Loud minute", "level")
    assert level["limit"] == pytest.approx(LIMIT_DB)
    # The rule samples clock minutes: the loud 60 s straddle two of them.
    minutes = minute_laeqs(db)
    above = [laeq for laeq in minutes if laeq > LIMIT_DB]
    assert above, f"some minute above {LIMIT_DB} dB: {minutes}"
    # The notification carries the minute that fired; the stored alert's peak grows with the
    # later minutes.
    assert LIMIT_DB < level["value"] <= level["peak"] <= max(minutes) + 0.01
    stored = db.execute(
        "SELECT peak, fired_at FROM noisefleet.alerts WHERE rule_id = 'loud-minute'"
    ).fetchone()
    assert stored is not None
    loud_peak, level_fired = stored
    assert loud_peak == pytest.approx(max(minutes), abs=1e-6), (stored, minutes)
    assert parse_utc(level["fired_at"]) == level_fired
    fired_minute = minute_laeq(db, level_fired - timedelta(minutes=1))
    assert level["value"] == pytest.approx(fired_minute, abs=0.006), (level, minutes)
    assert f"{SITE}/{SENSOR}" in level["message"]
    assert (siren["rule_name"], siren["kind"]) == ("Siren heard", "event_count")
    assert siren["value"] >= 1
    fired = parse_utc(siren["fired_at"])
    # a count over 5 min is sampled on the minute grid: the first minute after the siren began
    assert fired == siren_start.replace(second=0, microsecond=0) + timedelta(minutes=1)

    # -- the dashboard shows the event and both alerts to a signed-in operator
    accounts.add_user(db, "olga", PASSWORD, "operator", [SITE])
    shots = tmp_path / "screenshots"
    shots.mkdir()
    dashboard_env = {k: v for k, v in os.environ.items() if not k.startswith("NOISEFLEET_")}
    dashboard_env.update(NOISEFLEET_DATABASE_URL=database_url, NOISEFLEET_DASHBOARD_CACHE_TTL_S="1")
    try:
        with (
            dashboard_server(dashboard_env, tmp_path / "dashboard.log") as url,
            chromium() as browser,
        ):
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            dash = Dashboard(context.new_page(), url, shots)
            dash.open()
            dash.sign_in("olga", PASSWORD)
            dash.title("Fleet")
            # Played faster than real time, the recording is dated from the agent's start on:
            # its later seconds lie ahead of the clock for a while, and the Events page ends
            # its span at "now" (floored to the cache TTL).
            wait_for(
                lambda: datetime.now(UTC) > siren_start + timedelta(seconds=2),
                timeout_s=LENGTH_S,
                what="the clock to pass the siren's start",
            )
            dash.go("Events")
            local_start = siren_start.astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S")
            expect(dash.metric("Events")).not_to_have_text("0", timeout=TIMEOUT_MS)
            shown = [r for r in dash.table(0) if r["label"] == "siren"]
            assert [(r["start (local)"], r["sensor"]) for r in shown] == [(local_start, SENSOR)]
            dash.screenshot("e2e-01-events")
            dash.go("Alerts")
            dash.expect_metrics({"Alerts": "2"})
            alerts = {r["rule"]: r for r in dash.table(0)}
            assert set(alerts) == {"loud-minute", "siren-heard"}
            for row in alerts.values():
                assert (row["state"], row["site"], row["sensor"]) == ("🔴 firing", SITE, SENSOR)
            assert float(alerts["loud-minute"]["peak"].split()[0]) == pytest.approx(
                loud_peak, abs=0.051
            )  # the page shows one decimal
            expect(dash.page.get_by_role("button", name="Acknowledge")).to_be_visible()
            dash.screenshot("e2e-02-alerts")
            context.close()
    finally:
        stable_copy(shots)
