"""The Complaint check and Reports and export pages through AppTest against a PostgreSQL
seeded with a Friday night at tower: the verdict text, events and alerts, the downloads, and a
viewer limited to the assigned sites."""

from __future__ import annotations

from datetime import date, time

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.complaint_seed import seed_night
from tests.dashboard.seed import PASSWORD
from tests.dashboard.test_app import _app, _sign_in

pytestmark = pytest.mark.integration


@pytest.fixture
def night(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOISEFLEET_DATABASE_URL", database_url)
    monkeypatch.setenv("NOISEFLEET_DASHBOARD_CACHE_TTL_S", "1")
    monkeypatch.delenv("NOISEFLEET_DASHBOARD_CONFIG", raising=False)
    seed_night(database_url)


def _downloads(at: AppTest) -> list[str]:
    return [element.proto.label for element in at.get("download_button")]


def test_the_complaint_check_gives_the_verdict_events_alerts_and_a_pdf(night: None):
    at = _sign_in(_app(), "vera", PASSWORD)
    at.switch_page("ui/complaint.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="complaint_site").options == ["Tower A (tower)"]
    at.date_input(key="complaint_day").set_value(date(2026, 11, 27))
    at.time_input(key="complaint_time").set_value(time(23, 25))
    at.selectbox(key="complaint_window").select("± 15 min").run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "LAeq over 23:10–23:40 = 57.4 dB(A) > night limit 45 dB(A): exceeded"
    ]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"LAeq": "57.4 dB", "LAFmax": "62.0 dB", "Measured": "100 %"}
    assert "resolution 1 s" in at.caption[0].value
    alerts = at.dataframe[0].value  # no events in 23:10–23:40
    assert list(alerts["rule"]) == ["loud"]
    assert _downloads(at) == ["Download the check (PDF)"]
    # a wider window takes in the event at 23:41 and reads minutes
    at.selectbox(key="complaint_window").select("± 30 min").run()
    assert at.error[0].value.startswith("LAeq over 22:55–23:55 = 57.4 dB(A)")
    assert "from 50 % of the window: not enough data" not in at.error[0].value
    assert list(at.dataframe[0].value["label"]) == ["music"]


def test_thin_coverage_says_not_enough_data(night: None):
    at = _sign_in(_app(), "olga", PASSWORD)
    at.switch_page("ui/complaint.py").run()
    at.date_input(key="complaint_day").set_value(date(2026, 11, 27))
    at.time_input(key="complaint_time").set_value(time(22, 45))  # window 21:45–23:45
    at.selectbox(key="complaint_window").select("± 60 min").run()
    # 30 of 120 min measured at 57.4: at least 57.4 - 6.0 = 51.4 > evening 50 → exceeded
    assert at.error[0].value.endswith("> evening limit 50 dB(A): exceeded")
    at.time_input(key="complaint_time").set_value(time(22, 15)).run()  # 21:15–23:15
    assert "not enough data" in at.warning[0].value  # 5 of 120 min measured


def test_a_viewer_may_not_check_or_report_another_operators_site(night: None):
    for page in ("ui/complaint.py", "ui/reports.py"):
        at = _sign_in(_app(), "vera", PASSWORD)
        at.query_params["site"] = "depot"
        at.switch_page(page).run()
        assert "You may not see site 'depot'" in at.error[0].value
        assert not at.dataframe
        assert _downloads(at) == []


def test_the_report_and_the_exports(night: None):
    at = _sign_in(_app(), "vera", PASSWORD)
    at.switch_page("ui/reports.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="reports_site").options == ["Tower A (tower)"]
    at.date_input(key="report_first").set_value(date(2026, 11, 27))
    at.date_input(key="report_last").set_value(date(2026, 11, 27)).run()
    days = at.dataframe[0].value
    assert list(days["day"]) == ["2026-11-27"]
    assert days["Lnight"].iloc[0] == "57.4"
    assert days["verdict"].iloc[0] == "exceeded (night)"
    calibration = at.dataframe[2].value
    assert list(calibration["calibrated on"]) == ["2026-10-02"]
    assert list(at.dataframe[1].value["rule"]) == ["loud"]
    assert _downloads(at) == ["Report (PDF)", "Report (CSV)"]
    at.date_input(key="export_first").set_value(date(2026, 11, 27))
    at.date_input(key="export_last").set_value(date(2026, 11, 27)).run()
    at.button(key="export_prepare").click().run()
    assert not at.exception, at.exception
    assert "Rows: 30;" in at.caption[-1].value  # 1-min levels of one local day
    assert _downloads(at)[-1] == "Download levels (CSV)"


def test_an_export_over_the_row_cap_is_refused_with_a_message(
    night: None, monkeypatch: pytest.MonkeyPatch
):
    from noisefleet_dashboard import reports

    monkeypatch.setattr(reports, "MAX_EXPORT_ROWS", 10)
    at = _sign_in(_app(), "olga", PASSWORD)
    at.switch_page("ui/reports.py").run()
    at.date_input(key="export_first").set_value(date(2026, 11, 27))
    at.date_input(key="export_last").set_value(date(2026, 11, 27)).run()
    at.radio(key="export_format").set_value("Parquet").run()
    at.button(key="export_prepare").click().run()
    assert at.error[-1].value == (
        "More than 10 rows match: nothing was written. Choose a coarser resolution"
        " or a shorter range."
    )
    assert _downloads(at) == ["Report (PDF)", "Report (CSV)"]  # no export download
