"""The Sensor and Admin pages through AppTest against a seeded PostgreSQL and a real broker:
heartbeat numbers and charts; a push answered by a (fake) agent within the wait, one refused,
one left pending and answered later through the server's ingest of the state report; a model
push; a viewer and another site's operator refused; the Admin page refused to non-admins, and an
admin adding a user who then signs in, changing a user, adding a site and assigning the pending
sensor."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from streamlit.testing.v1 import AppTest

import noisefleet_dashboard
from noisefleet_core.contract.commands import (
    ModelInfo,
    SetCommand,
    StateReport,
    decode_command,
    encode_command,
)
from noisefleet_core.contract.topics import topic
from noisefleet_dashboard import sensor_queries
from noisefleet_dashboard.access import SiteScope, User
from noisefleet_dashboard.alert_queries import NotAllowedError, run_async
from noisefleet_dashboard.data import USER_KEY
from noisefleet_server.config import MqttSettings
from noisefleet_server.state_reports import ingest_state
from tests.dashboard.seed import PASSWORD, Fleet
from tests.dashboard.sensor_seed import seed_heartbeats
from tests.dashboard.test_app import _app, _sign_in, live_fleet
from tests.server.conftest import broker
from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.integration
__all__ = ["broker", "live_fleet"]

LIMIT_DB = 120
UI = Path(noisefleet_dashboard.__file__).parent / "ui"


class FakeAgent:
    """Answers ``set`` commands to tower/roof like an agent: a gate level above 120 dB is
    refused, anything else applied (merged into its settings), the answer on ``state``."""

    def __init__(self, broker: Mosquitto) -> None:
        self.settings: dict[str, Any] = {"gate_level_db": 40, "interval_s": 1}
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_message = self._on_message
        self.received = threading.Event()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic("tower", "roof", "set"), qos=1)
        self.client.loop_start()

    def _on_message(self, client: paho.Client, userdata: object, message: Any) -> None:
        command = decode_command(message.topic, message.payload)
        assert isinstance(command, SetCommand)
        level = command.changes.get("gate_level_db", 0)
        if level > LIMIT_DB:
            report = StateReport(
                command.request_id,
                False,
                f"gate_level_db: {level} is above {LIMIT_DB}",
                self.settings,
                None,
                datetime.now(UTC),
            )
        else:
            self.settings.update(command.changes)
            report = StateReport(
                command.request_id, True, None, self.settings, None, datetime.now(UTC)
            )
        client.publish(topic("tower", "roof", "state"), encode_command(report), qos=1, retain=True)
        self.received.set()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def sensor_fleet(
    live_fleet: Fleet, broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Fleet:
    seed_heartbeats(live_fleet.url, live_fleet.end)
    models = tmp_path / "models"
    (models / "tiny-v2").mkdir(parents=True)
    (models / "tiny-v2" / "model.json").write_text(json.dumps({"name": "tiny"}))
    (models / "tiny-v2" / "labels.txt").write_text("dog_bark\nsiren\n")
    monkeypatch.setenv("NOISEFLEET_MQTT_URL", f"mqtt://{broker.host}:{broker.port}")
    monkeypatch.setenv("NOISEFLEET_DASHBOARD_MODELS_DIR", str(models))
    monkeypatch.setenv("NOISEFLEET_DASHBOARD_COMMAND_WAIT_S", "5")
    return live_fleet


@pytest.fixture
def agent(broker: Mosquitto) -> Iterator[FakeAgent]:
    fake = FakeAgent(broker)
    yield fake
    fake.close()


def _sensor_page(user: str, **params: str) -> AppTest:
    at = _sign_in(_app(), user, PASSWORD)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("ui/sensor.py").run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def _table(at: AppTest, column: str) -> Any:
    """The (first) table shown with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _commands(at: AppTest) -> list[tuple[str, str, str]]:
    table = _table(at, "answer")
    return list(zip(table["kind"], table["what"], table["answer"], strict=True))


def test_sensor_page_shows_the_latest_heartbeat_and_its_history(sensor_fleet: Fleet):
    at = _sensor_page("vera", site="tower", sensor="roof")
    assert at.title[0].value == "Sensor"
    assert at.selectbox(key="sensor_choice").options == ["tower / roof"]  # vera: tower only
    metrics = {m.label: m.value for m in at.metric}
    # the latest is the seed's heartbeat (the contract's example values)
    assert metrics["CPU"] == "37.5 %"
    assert metrics["Temperature"] == "52.1 °C"
    assert metrics["Free disk"] == "21.5 GB"
    assert metrics["Outbox backlog"] == "3"
    assert metrics["Clock"] == "synced"
    assert "🟢 online" in at.markdown[0].value
    assert "11 buckets of 1 min · 11 heartbeats" in at.caption[0].value
    assert len(at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")) == 5
    assert "urban-sed-int8 (9f86d081)" in at.markdown[1].value
    # a viewer sees no editor and no push
    assert "Read only" in " ".join(c.value for c in at.caption)
    assert not [b for b in at.button if b.label in ("Push settings", "Push model")]


def test_health_buckets_have_the_heartbeats_numbers(sensor_fleet: Fleet):
    end = sensor_fleet.end
    start = end - timedelta(minutes=15)
    with psycopg.connect(sensor_fleet.url) as conn:
        minutes = sensor_queries.health(
            conn, SiteScope(True), "tower", "roof", start, end + timedelta(seconds=1), 60
        )
        fives = sensor_queries.health(
            conn, SiteScope(True), "tower", "roof", start, end + timedelta(seconds=1), 300
        )
    # the ten seeded beats (CPU 10 … 100 %), then the fleet's own (the contract's 37.5 %)
    assert [p.cpu_percent for p in minutes] == [10.0 * k for k in range(1, 11)] + [37.5]
    assert [p.outbox_depth for p in minutes] == [*range(10), 3]
    assert [p.dropped_frames for p in minutes] == [5 * k for k in range(10)] + [0]
    assert [p.clock_synced for p in minutes] == [1.0, 1.0, 1.0, 0.0] + [1.0] * 7
    assert [p.source_errors for p in minutes] == [0] * 5 + [1] + [0] * 5
    # 5-min buckets from start: beats 1-5, 6-10 and the last one
    assert [p.heartbeats for p in fives] == [5, 5, 1]
    assert [p.cpu_percent for p in fives] == [30.0, 80.0, 37.5]
    assert [p.clock_synced for p in fives] == [0.8, 1.0, 1.0]
    assert [p.temperature_c for p in fives] == [52.1, 52.1, 52.1]


def test_an_operator_pushes_settings_and_sees_the_agents_answer(
    sensor_fleet: Fleet, agent: FakeAgent
):
    at = _sensor_page("olga", site="tower", sensor="roof")
    at.text_area(key="sensor_changes").input("gate_level_db=45")
    _button(at, "Push settings").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Settings: applied by the agent."]
    assert _commands(at) == [("set", "gate_level_db=45", "✅ applied")]
    settings = _table(at, "in force")
    row = settings[settings["setting"] == "gate_level_db"].iloc[0]
    assert (row["in force"], row["desired"], row["applied"]) == ("45", "45", "✅")
    # refused by the agent, with its reason
    at.text_area(key="sensor_changes").input("gate_level_db=130")
    _button(at, "Push settings").click().run()
    assert [e.value for e in at.error] == [
        "Settings: refused by the agent: gate_level_db: 130 is above 120"
    ]
    assert _commands(at)[0] == (
        "set",
        "gate_level_db=130",
        "⛔ refused: gate_level_db: 130 is above 120",
    )
    # bad input is one line and sends nothing
    at.text_area(key="sensor_changes").input("no equals sign")
    _button(at, "Push settings").click().run()
    assert "expected key=value" in at.error[0].value
    assert len(_commands(at)) == 2


def test_a_push_without_an_answer_stays_pending_until_the_state_report_comes(
    sensor_fleet: Fleet, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("NOISEFLEET_DASHBOARD_COMMAND_WAIT_S", "0.3")
    at = _sensor_page("olga", site="tower", sensor="roof")
    _button(at, "Push model").click().run()
    assert not at.exception, at.exception
    assert any("Model tiny-v2 sent; no answer within 0.3 s" in i.value for i in at.info)
    assert _commands(at) == [("model", "model tiny (tiny-v2)", "⏳ pending")]
    with psycopg.connect(sensor_fleet.url) as conn:
        row = conn.execute(
            "SELECT request_id::text, body FROM noisefleet.sensor_commands"
        ).fetchone()
    assert row is not None
    request_id, body = row
    assert body["chunks"] == 1
    # the agent's verdict arrives later: the server's ingest of its state report
    model = ModelInfo("tiny", "ab" * 32, "fp-3a7c91e2", "tiny-v2", datetime.now(UTC))
    report = StateReport(
        request_id, True, "loaded, run once, swapped", {}, model, datetime.now(UTC)
    )
    run_async(
        sensor_fleet.url,
        lambda conn: ingest_state(conn, topic("tower", "roof", "state"), encode_command(report)),
    )
    _button(at, "Refresh").click().run()
    assert _commands(at) == [
        ("model", "model tiny (tiny-v2)", "✅ applied: loaded, run once, swapped")
    ]


def test_viewers_and_other_operators_are_refused_a_push(sensor_fleet: Fleet):
    mqtt = MqttSettings(url="mqtt://127.0.0.1:1")  # never reached: refused before
    vera = User("vera", "viewer", frozenset({"tower"}))
    with pytest.raises(NotAllowedError, match="Viewers cannot change sensors"):
        sensor_queries.push_settings(
            sensor_fleet.url, mqtt, vera, "tower", "roof", ["gate_level_db=45"], 1.0
        )
    olga = User("olga", "operator", frozenset({"tower"}))
    with pytest.raises(NotAllowedError, match="Site 'depot' is not one of your sites"):
        sensor_queries.push_settings(
            sensor_fleet.url, mqtt, olga, "depot", "gate", ["gate_level_db=45"], 1.0
        )
    with psycopg.connect(sensor_fleet.url) as conn:
        assert conn.execute("SELECT count(*) FROM noisefleet.sensor_commands").fetchone() == (0,)
    at = _sensor_page("vera", site="depot", sensor="gate")
    assert "You may not see site 'depot'" in at.error[0].value


def test_non_admins_are_refused_the_admin_page(sensor_fleet: Fleet):
    # not routed for them ...
    at = _sign_in(_app(), "olga", PASSWORD)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("ui/admin.py")
    # ... and the page itself refuses them when run for them
    for user in (User("olga", "operator", frozenset({"tower"})), User("vera", "viewer")):
        page = AppTest.from_file(str(UI / "admin.py"), default_timeout=60)
        page.session_state[USER_KEY] = user
        page.run()
        assert not page.exception, page.exception
        assert [e.value for e in page.error] == [
            "Only administrators manage users, sites and sensors."
        ]
        assert not page.dataframe


def _admin() -> AppTest:
    at = _sign_in(_app(), "admin", PASSWORD)
    at.switch_page("ui/admin.py").run()
    assert not at.exception, at.exception
    return at


def test_an_admin_adds_a_user_who_then_signs_in(sensor_fleet: Fleet):
    at = _admin()
    users = _table(at, "failed sign-ins")
    assert list(users["user"]) == ["admin", "olga", "oscar", "vera"]
    at.text_input(key="admin_new_username").input("Nina")
    at.text_input(key="admin_new_password").input("a long enough password")
    at.selectbox(key="admin_new_role").select("operator")
    at.multiselect(key="admin_new_sites").select("depot")
    _button(at, "Add user").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["User nina added (operator)."]
    users = _table(at, "failed sign-ins")
    nina = users[users["user"] == "nina"].iloc[0]
    assert (nina["role"], nina["sites"], nina["state"]) == ("operator", "depot", "active")
    # a weak password is refused in one line
    at.text_input(key="admin_new_username").input("pat")
    at.text_input(key="admin_new_password").input("short")
    _button(at, "Add user").click().run()
    assert len(at.error) == 1
    assert "\n" not in at.error[0].value
    signed = _sign_in(_app(), "nina", "a long enough password")
    assert signed.title[0].value == "Fleet"
    assert list(signed.dataframe[0].value["site"]) == ["depot"]


def test_an_admin_disables_a_user_but_not_themselves(sensor_fleet: Fleet):
    at = _admin()
    at.selectbox(key="admin_edit_user").select("olga").run()
    next(c for c in at.checkbox if c.label == "Disabled").check()
    _button(at, "Save user").click().run()
    assert [s.value for s in at.success] == ["User olga saved: operator, disabled."]
    refused = _sign_in(_app(), "olga", PASSWORD)
    assert refused.title[0].value == "noisefleet — sign in"
    at.selectbox(key="admin_edit_user").select("admin").run()
    [*(s for s in at.selectbox if s.label == "Role")][-1].select("viewer")  # the edit form's
    _button(at, "Save user").click().run()
    assert "cannot disable your own account" in at.error[0].value


def test_an_admin_adds_a_site_and_assigns_the_pending_sensor(sensor_fleet: Fleet):
    at = _admin()
    pending = _table(at, "site registered")
    assert list(pending["site registered"]) == ["no: add it above"]
    inputs = {t.label: t for t in at.text_input}
    inputs["Site id"].input("annex")
    inputs["Name"].input("Annex B")
    inputs["Time zone (IANA)"].input("Mars/Olympus")
    _button(at, "Save site").click().run()
    assert "'Mars/Olympus' is not an IANA time zone" in at.error[0].value
    inputs = {t.label: t for t in at.text_input}
    inputs["Time zone (IANA)"].input("Europe/Paris")
    next(n for n in at.number_input if n.label.startswith("Night")).set_value(40.0)
    _button(at, "Save site").click().run()
    assert [s.value for s in at.success] == ["Site annex added."]
    sites = _table(at, "time zone")
    annex = sites[sites["site"] == "annex"].iloc[0]
    assert (annex["name"], annex["time zone"], annex["limits"]) == (
        "Annex B",
        "Europe/Paris",
        "night 40",
    )
    _button(at, "Assign to its site").click().run()
    assert [s.value for s in at.success] == ["Sensor annex/x1 assigned to site annex."]
    assert "No sensors are waiting" in " ".join(c.value for c in at.caption)
    with psycopg.connect(sensor_fleet.url) as conn:
        row = conn.execute(
            "SELECT pending FROM noisefleet.sensors WHERE site = 'annex' AND sensor = 'x1'"
        ).fetchone()
    assert row == (False,)


def test_the_fleet_table_opens_a_sensors_page(sensor_fleet: Fleet):
    at = _sign_in(_app(), "olga", PASSWORD)
    assert "Select a sensor's row" in " ".join(m.value for m in at.markdown)
    at.query_params["site"] = "tower"
    at.query_params["sensor"] = "roof"
    at.switch_page("ui/sensor.py").run()
    assert at.selectbox(key="sensor_choice").value == ("tower", "roof")
