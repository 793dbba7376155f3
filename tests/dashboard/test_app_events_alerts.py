"""The Events and Alerts pages through AppTest against a seeded PostgreSQL: the events shown
with their counts, acknowledgement by an operator (not by a viewer), the rule editor's refusal
and save, and the replay preview's count."""

from __future__ import annotations

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.events_seed import DRAFT, seed_events
from tests.dashboard.seed import PASSWORD, Fleet
from tests.dashboard.test_app import _app, _sign_in, live_fleet

pytestmark = pytest.mark.integration
__all__ = ["live_fleet"]


def _page(user: str, fleet: Fleet, page: str) -> AppTest:
    seed_events(fleet.url, fleet.t0)
    at = _sign_in(_app(), user, PASSWORD)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_events_page_shows_the_events_with_counts(live_fleet: Fleet):
    at = _page("olga", live_fleet, "ui/events.py")
    assert at.title[0].value == "Events"
    assert at.selectbox(key="events_site").options == ["Tower A (tower)"]
    assert at.metric[0].value == "5"
    table = at.dataframe[0].value
    assert sorted(table["label"]) == ["dog_bark", "dog_bark", "siren", "siren", "siren"]
    assert len(at.get("vega_lite_chart")) == 3  # timeline, hours, detail
    assert "250 s of levels" in at.caption[-1].value  # the newest event ±2 min
    at.multiselect(key="events_labels").select("siren").run()
    at.slider(key="events_min_conf").set_value(0.85).run()
    assert at.metric[0].value == "2"
    assert list(at.dataframe[0].value["confidence"]) == [0.95, 0.9]


def test_an_operator_acknowledges_an_alert(live_fleet: Fleet):
    at = _page("olga", live_fleet, "ui/alerts.py")
    assert at.metric[0].value == "1"
    table = at.dataframe[0].value
    assert list(table["rule"]) == ["loud"]
    at.text_input(key="alerts_ack_comment").input("crane works, called the site")
    at.button(key="alerts_ack").click().run()
    assert not at.exception, at.exception
    row = at.dataframe[0].value.iloc[0]
    assert (row["acknowledged by"], row["comment"]) == ("olga", "crane works, called the site")
    with psycopg.connect(live_fleet.url) as conn:
        stored = conn.execute(
            "SELECT acknowledged_by, ack_comment FROM noisefleet.alerts WHERE rule_id = 'loud'"
        ).fetchone()
    assert stored == ("olga", "crane works, called the site")


def test_a_viewer_sees_alerts_but_no_button_or_editor(live_fleet: Fleet):
    at = _page("vera", live_fleet, "ui/alerts.py")
    assert list(at.dataframe[0].value["rule"]) == ["loud"]
    keys = {b.key for b in at.button}
    assert "alerts_ack" not in keys
    assert "alerts_save" not in keys
    assert not at.text_area


def test_the_rule_editor_refuses_saves_and_previews(live_fleet: Fleet):
    at = _page("admin", live_fleet, "ui/alerts.py")
    at.text_area(key="alerts_draft").input(DRAFT.replace("55.0", '"loud"'))
    at.button(key="alerts_save").click().run()
    assert [e.value for e in at.error] == [
        'rules[0] (draft-loud).limit_db: must be a number between 0 and 200, got "loud"'
    ]
    at.text_area(key="alerts_draft").input(DRAFT)
    at.button(key="alerts_check").click().run()
    assert not at.exception, at.exception
    assert not at.error
    preview = {m.label: m.value for m in at.metric}
    assert preview["Would have fired in the last 7 days"] == "2"  # tower/roof and depot/gate
    assert sorted(at.dataframe[-1].value["site"]) == ["depot", "tower"]
    at.button(key="alerts_save").click().run()
    assert "Saved draft-loud" in at.success[0].value
    with psycopg.connect(live_fleet.url) as conn:
        body = conn.execute(
            "SELECT body FROM noisefleet.alert_rules WHERE rule_id = 'draft-loud'"
        ).fetchone()
    assert body is not None
    assert body[0]["limit_db"] == 55.0


def test_an_operators_preview_covers_only_their_sites(live_fleet: Fleet):
    at = _page("olga", live_fleet, "ui/alerts.py")
    at.text_area(key="alerts_draft").input(DRAFT + 'sites = ["tower"]\n')
    at.button(key="alerts_check").click().run()
    assert not at.error, at.error
    preview = {m.label: m.value for m in at.metric}
    assert preview["Would have fired in the last 7 days"] == "1"
