"""Reports, exports and PDFs without a database: per-day verdicts and CSV, calibration status,
the row cap (refused, never cut), Parquet round trip, and the verdict text inside the PDFs."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from noisefleet_dashboard import pdf, reports
from noisefleet_dashboard.queries import LdenDay
from noisefleet_dashboard.report_queries import SensorCalibration, Table
from tests.dashboard.pdftext import pdf_text

LIMITS = {"day": 55, "evening": 50, "night": 45}
T0 = datetime(2026, 11, 27, 22, 10, tzinfo=UTC)


def test_compliance_rows_and_csv():
    days = {
        "roof": [
            LdenDay(date(2026, 11, 26), 54.0, 49.0, 44.0, 54.4, 0.95),
            LdenDay(date(2026, 11, 27), 54.0, 49.0, 47.25, 56.0, 0.9),
            LdenDay(date(2026, 11, 28), 50.0, None, None, None, 0.3),
        ]
    }
    rows = reports.compliance_rows(days, LIMITS)
    assert [r.verdict_text for r in rows] == ["complies", "exceeded (night)", "incomplete"]
    assert reports.summary(rows) == {"complies": 1, "exceeded": 1, "incomplete": 1, "no limits": 0}
    lines = reports.report_csv("tower", rows).decode().splitlines()
    assert lines[0] == (
        "site,sensor,day,lday_db,levening_db,lnight_db,lden_db,coverage,verdict,exceeded_periods"
    )
    assert lines[2] == "tower,roof,2026-11-27,54.0,49.0,47.2,56.0,0.900,exceeded,night"
    assert lines[3] == "tower,roof,2026-11-28,50.0,,,,0.300,incomplete,"
    assert reports.day_table(rows)[1]["coverage"] == "90 %"


def test_calibration_status():
    today = date(2026, 12, 1)
    sensors = [
        SensorCalibration("a", date(2026, 10, 2), 94.0, None),
        SensorCalibration("b", date(2025, 11, 30), 94.0, None),
        SensorCalibration("c", None, None, None),
    ]
    rows = reports.calibration_rows(sensors, today)
    assert [(r["age (days)"], r["status"]) for r in rows] == [
        ("60", "ok"),
        ("366", "overdue"),
        ("—", "never calibrated"),
    ]


def _levels(n: int, complete: bool = True) -> Table:
    rows = [
        ("tower", "roof", T0 + timedelta(seconds=k), 50.0, 52.0, 51.0, 50.0, 49.0, 1.0)
        for k in range(n)
    ]
    return Table(
        ("site", "sensor", "start", "laeq_db", "lafmax_db", "laf10_db", "laf50_db", "laf90_db",
         "coverage"),
        rows,
        complete,
    )  # fmt: skip


def test_exports_write_csv_and_parquet_and_refuse_a_table_over_the_cap():
    table = _levels(3)
    lines = reports.table_csv(table).decode().splitlines()
    assert len(lines) == 4
    assert lines[1] == "tower,roof,2026-11-27T22:10:00+00:00,50.0,52.0,51.0,50.0,49.0,1.0"
    frame = pd.read_parquet(io.BytesIO(reports.table_parquet(table)))
    assert list(frame["laeq_db"]) == [50.0] * 3
    assert frame["start"].iloc[0] == pd.Timestamp(T0)
    with pytest.raises(reports.ExportTooLargeError, match="More than 200 000 rows"):
        reports.table_csv(_levels(2, complete=False))
    with pytest.raises(reports.ExportTooLargeError, match="coarser resolution"):
        reports.table_parquet(_levels(2, complete=False))


def test_one_second_levels_are_offered_only_for_short_ranges():
    assert reports.export_resolutions(timedelta(hours=6))[0].label == "1 s"
    assert [r.label for r in reports.export_resolutions(timedelta(days=1))] == [
        "1 min",
        "1 h",
        "1 day",
    ]


def test_the_complaint_pdf_is_one_page_with_the_verdict_and_the_events():
    verdict = "LAeq over 23:10–00:10 = 52.3 dB(A) > night limit 45 dB(A): exceeded"
    times = [T0 + timedelta(minutes=k) for k in range(60)]
    chart = pdf.ChartSeries(times, [52.3] * 60, [60.0] * 60, 45.0, "LAeq per 1 min")
    events = [{"start": "2026-11-27 23:41:00", "label": "music", "LAeq": "62.0"}] * 40
    document = pdf.complaint_pdf("Complaint check - Tower A", verdict, ["Site Tower A"], chart,
                                 events, [])  # fmt: skip
    text = pdf_text(document)
    assert document.count(b"/Type /Page") - document.count(b"/Type /Pages") == 1  # one page
    assert "LAeq over 23:10-00:10 = 52.3 dB(A) > night limit 45 dB(A): exceeded" in text
    assert "music" in text
    assert "more (all of them in the CSV)" in text  # 40 events do not fit on the page


def test_the_report_pdf_holds_days_alerts_and_calibration():
    rows = reports.compliance_rows(
        {"roof": [LdenDay(date(2026, 11, 27), 54.0, 49.0, 47.25, 56.0, 0.9)]}, LIMITS
    )
    document = pdf.report_pdf(
        "Compliance report - Tower A",
        ["Limits: day 55 dB"],
        reports.day_table(rows),
        [],
        [{"sensor": "roof", "status": "ok"}],
    )
    text = pdf_text(document)
    assert "exceeded (night)" in text
    assert "Compliance report - Tower A" in text
    assert document.count(b"/Type /Page") - document.count(b"/Type /Pages") == 1
