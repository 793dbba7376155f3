"""The Sensor page's pure helpers: the heartbeat bucket for a range, settings desired vs in
force, the push outcome line and the command table's answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from noisefleet_core.contract.commands import StateReport
from noisefleet_dashboard import formatting, sensor_view
from noisefleet_dashboard.sensor_queries import CommandRow

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
REQUEST = "0b7c4a52-6d0e-4a8e-9d7e-2f1a3b4c5d6e"


def test_the_finest_bucket_that_fits():
    assert sensor_view.bucket_for(timedelta(hours=24), 2000) == 60  # 1440 points
    assert sensor_view.bucket_for(timedelta(days=7), 2000) == 900  # 5 min: 2016 > 2000
    assert sensor_view.bucket_for(timedelta(days=30), 2000) == 3600  # 720 points
    assert sensor_view.bucket_for(timedelta(days=3650), 10) == 86400  # the coarsest
    assert [formatting.bucket_label(b) for b in (60, 900, 3600, 86400)] == [
        "1 min",
        "15 min",
        "1 h",
        "1 d",
    ]


def test_settings_rows_mark_what_the_agent_applied():
    rows = sensor_view.settings_rows(
        {"gate_level_db": 45, "interval_s": 2, "new_key": True},
        {"gate_level_db": 45, "interval_s": 1, "tags": ["a"]},
    )
    assert rows == [
        {"setting": "gate_level_db", "in force": "45", "desired": "45", "applied": "✅"},
        {"setting": "interval_s", "in force": "1", "desired": "2", "applied": "⏳ differs"},
        {"setting": "new_key", "in force": "—", "desired": "true", "applied": "⏳ not reported"},
        {"setting": "tags", "in force": '["a"]', "desired": "", "applied": ""},
    ]


def test_push_outcomes_and_answers():
    applied = StateReport(REQUEST, True, None, {}, None, AT)
    refused = StateReport(REQUEST, False, "interval_s: must be 1..60", {}, None, AT)
    assert sensor_view.push_outcome("Settings", applied, 5) == (
        "success",
        "Settings: applied by the agent.",
    )
    assert sensor_view.push_outcome("Settings", refused, 5) == (
        "error",
        "Settings: refused by the agent: interval_s: must be 1..60",
    )
    kind, text = sensor_view.push_outcome("Model m1", None, 2.5)
    assert kind == "info"
    assert text.startswith("Model m1 sent; no answer within 2.5 s: pending")
    row = CommandRow(REQUEST, "set", {"b": 2, "a": "x"}, "olga", AT, "refused", "no", AT)
    [shown] = sensor_view.command_rows([row])
    assert (shown["what"], shown["answer"]) == ('a="x", b=2', "⛔ refused: no")
