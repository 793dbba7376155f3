"""The Streamlit app through AppTest against a seeded PostgreSQL: sign-in (refusals, throttling,
success), the Fleet page's numbers and the Site page's levels, Lden and access refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import noisefleet_dashboard
from noisefleet_dashboard import accounts
from tests.dashboard.seed import PASSWORD, TOWER_LAEQ, TOWER_TRAFFIC_SHARE, Fleet, seed_fleet

pytestmark = pytest.mark.integration

APP = str(Path(noisefleet_dashboard.__file__).parent / "app.py")


@pytest.fixture
def live_fleet(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    """The seeded fleet ending at the current minute, and the app configured for it."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    monkeypatch.setenv("NOISEFLEET_DATABASE_URL", database_url)
    monkeypatch.setenv("NOISEFLEET_DASHBOARD_MAX_FAILED", "3")
    monkeypatch.setenv("NOISEFLEET_DASHBOARD_CACHE_TTL_S", "1")
    monkeypatch.delenv("NOISEFLEET_DASHBOARD_CONFIG", raising=False)
    return seed_fleet(database_url, now - timedelta(minutes=30))


def _sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    at.button[0].click()
    return at.run()


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def test_sign_in_refuses_wrong_passwords_then_throttles(live_fleet: Fleet):
    at = _app()
    assert at.title[0].value == "noisefleet — sign in"
    _sign_in(at, "olga", "wrong password")
    assert [e.value for e in at.error] == [accounts.WRONG]
    _sign_in(at, "nobody", "wrong password")
    assert [e.value for e in at.error] == [accounts.WRONG]
    _sign_in(at, "olga", "wrong password")
    _sign_in(at, "olga", "wrong password")  # the third failure locks
    assert "locked for 15 min" in at.error[0].value
    _sign_in(at, "olga", PASSWORD)
    assert "locked until" in at.error[0].value
    assert at.title[0].value == "noisefleet — sign in"


def test_sign_in_shows_the_fleet_of_the_users_sites(live_fleet: Fleet):
    at = _sign_in(_app(), "olga", PASSWORD)
    assert not at.exception, at.exception
    assert at.title[0].value == "Fleet"
    table = at.dataframe[0].value
    assert list(table["site"]) == ["tower"]  # olga is not shown oscar's depot
    row = table.iloc[0]
    assert row["sensor"] == "roof"
    assert row["state"] == "🟢 online"
    assert row["outbox"] == 3
    assert row["model"] == "urban-sed-int8 (9f86d081)"
    assert row["open alerts"] == 1
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sensors online"] == "1 / 1"
    assert metrics["Open alerts"] == "1"
    # sign out: back to the sign-in page, the session is gone
    at.button(key="signout").click().run()
    assert at.title[0].value == "noisefleet — sign in"


def test_admin_sees_every_site_and_the_pending_sensor(live_fleet: Fleet):
    at = _sign_in(_app(), "admin", PASSWORD)
    assert list(at.dataframe[0].value["site"]) == ["depot", "tower"]
    pending = at.dataframe[1].value
    assert list(pending["sensor"]) == ["x1"]
    assert "sensors assign" in at.caption[0].value


def test_site_page_shows_levels_and_lden(live_fleet: Fleet):
    at = _sign_in(_app(), "vera", PASSWORD)
    at.switch_page("ui/site.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Site"
    assert at.selectbox(key="site_site").options == ["Tower A (tower)"]
    at.selectbox(key="site_span").select("6 hours").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["LAeq over the span"] == f"{TOWER_LAEQ:.1f} dB"  # 57.4 dB
    assert "resolution 1 min · 30 points" in at.caption[0].value
    assert "day 55 dB, evening 50 dB, night 45 dB" in at.caption[0].value
    # Levels, what caused the noise (stacked bars) and the hour x day heat map.
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(specs) == 3
    assert specs[1]["mark"]["type"] == "bar"
    assert specs[2]["mark"]["type"] == "rect"
    causes = at.dataframe[0].value
    assert dict(zip(causes["cause"], causes["share of the energy"], strict=True)) == {
        "traffic": f"{100 * TOWER_TRAFFIC_SHARE:.1f} %",  # 72.7 %
        "background": f"{100 * (1 - TOWER_TRAFFIC_SHARE):.1f} %",
    }
    lden = at.dataframe[-1].value
    assert len(lden) >= 1
    assert lden["coverage"].iloc[-1] != "—"
    at.selectbox(key="site_span").select("30 minutes").run()
    assert "resolution 1 s" in at.caption[0].value  # the last 30 min: up to 1800 records


def test_a_viewer_opening_another_operators_site_is_refused(live_fleet: Fleet):
    at = _sign_in(_app(), "vera", PASSWORD)
    at.query_params["site"] = "depot"
    at.switch_page("ui/site.py").run()
    assert "You may not see site 'depot'" in at.error[0].value
    assert not at.dataframe


def test_an_unreachable_database_is_one_line_on_the_page(monkeypatch: pytest.MonkeyPatch):
    from tests.support.mosquitto import free_port

    monkeypatch.setenv("NOISEFLEET_DATABASE_URL", f"postgresql://x@127.0.0.1:{free_port()}/x")
    monkeypatch.setenv("NOISEFLEET_DATABASE_CONNECT_TIMEOUT_S", "1")
    at = _sign_in(_app(), "olga", PASSWORD)
    assert not at.exception, at.exception
    assert at.error[0].value.startswith("The database cannot be reached: ")
    assert "\n" not in at.error[0].value
