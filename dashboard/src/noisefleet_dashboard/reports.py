"""The compliance report of a site and the data exports: rows, CSV and Parquet. No Streamlit.

1. ``compliance_rows``: per sensor and Lden day (07:00–07:00 local), Lday/Levening/Lnight/Lden,
   coverage and the verdict of ``compliance.day_verdict`` (exceeded periods named).
2. ``alert_rows`` (exceedances: the alerts active in the period), ``calibration_rows``
   (date, age, status: ``CALIBRATION_DUE_DAYS`` after the last calibration it is overdue).
3. ``report_csv``: the per-day rows as CSV (one header, ISO dates, levels to 0.1 dB).
4. Exports: ``export_plan`` checks a range against the 1-s limit, ``table_csv`` /
   ``table_parquet`` write a ``report_queries.Table``; an incomplete table (over the row cap) is
   refused with ``ExportTooLargeError`` rather than written cut short.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from noisefleet_dashboard.compliance import DayVerdict, Period, day_verdict
from noisefleet_dashboard.errors import DashboardError
from noisefleet_dashboard.queries import LdenDay
from noisefleet_dashboard.report_queries import AlertRow, EventRow, SensorCalibration, Table
from noisefleet_dashboard.resolution import RESOLUTIONS, Resolution

CALIBRATION_DUE_DAYS = 365
"""A field calibration older than this is overdue (IEC 61672 practice: yearly verification)."""

MAX_EXPORT_ROWS = 200_000
"""Rows per export file; more is refused (choose a coarser resolution or a shorter range)."""

MAX_1S_SPAN = timedelta(hours=6)
"""1-s levels are offered for ranges up to this long (21 600 rows per sensor)."""


class ExportTooLargeError(DashboardError):
    """An export would hold more rows than the cap."""


@dataclass(frozen=True)
class DayRow:
    sensor: str
    day: date
    lday_db: float | None
    levening_db: float | None
    lnight_db: float | None
    lden_db: float | None
    coverage: float
    verdict: DayVerdict

    @property
    def verdict_text(self) -> str:
        if self.verdict.exceeded:
            return f"{self.verdict.verdict} ({', '.join(self.verdict.exceeded)})"
        return self.verdict.verdict


def compliance_rows(
    days_by_sensor: Mapping[str, Sequence[LdenDay]], limits: Mapping[str, float]
) -> list[DayRow]:
    """Every sensor's Lden days with their verdicts, by sensor then day."""
    rows: list[DayRow] = []
    for sensor in sorted(days_by_sensor):
        for d in days_by_sensor[sensor]:
            levels: dict[Period, float | None] = {
                "day": d.lday_db,
                "evening": d.levening_db,
                "night": d.lnight_db,
            }
            rows.append(
                DayRow(
                    sensor,
                    d.day,
                    d.lday_db,
                    d.levening_db,
                    d.lnight_db,
                    d.lden_db,
                    d.coverage,
                    day_verdict(levels, limits, d.coverage),
                )
            )
    return rows


def summary(rows: Sequence[DayRow]) -> dict[str, int]:
    """How many sensor-days comply, exceed, are incomplete."""
    counts = {"complies": 0, "exceeded": 0, "incomplete": 0, "no limits": 0}
    for row in rows:
        counts[row.verdict.verdict] += 1
    return counts


def _r(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def day_table(rows: Sequence[DayRow]) -> list[dict[str, str]]:
    """The per-day rows as text cells (shared by the page, the CSV and the PDF)."""
    return [
        {
            "sensor": r.sensor,
            "day": r.day.isoformat(),
            "Lday": _r(r.lday_db),
            "Levening": _r(r.levening_db),
            "Lnight": _r(r.lnight_db),
            "Lden": _r(r.lden_db),
            "coverage": f"{100 * r.coverage:.0f} %",
            "verdict": r.verdict_text,
        }
        for r in rows
    ]


def report_csv(site: str, rows: Sequence[DayRow]) -> bytes:
    """The per-day compliance rows as CSV (levels in dB(A), coverage as a 0..1 share)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "site",
            "sensor",
            "day",
            "lday_db",
            "levening_db",
            "lnight_db",
            "lden_db",
            "coverage",
            "verdict",
            "exceeded_periods",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                site,
                r.sensor,
                r.day.isoformat(),
                _r(r.lday_db),
                _r(r.levening_db),
                _r(r.lnight_db),
                _r(r.lden_db),
                f"{r.coverage:.3f}",
                r.verdict.verdict,
                " ".join(r.verdict.exceeded),
            ]
        )
    return out.getvalue().encode()


def _local(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "—"
    return f"{moment.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M}"


def alert_rows(alerts: Sequence[AlertRow], timezone: str) -> list[dict[str, str]]:
    """The exceedances (alerts) as text cells, times local to the site."""
    return [
        {
            "sensor": a.sensor,
            "rule": a.rule_id,
            "severity": a.severity,
            "state": a.state,
            "from": _local(a.started, timezone),
            "until": _local(a.ended, timezone) if a.ended else "ongoing",
            "value": _r(a.value),
            "limit": _r(a.limit_value),
            "message": a.message or "",
        }
        for a in alerts
    ]


def event_rows(events: Sequence[EventRow], timezone: str) -> list[dict[str, str]]:
    """Events as text cells, start local to the site."""
    zone = ZoneInfo(timezone)
    return [
        {
            "start": f"{e.start.astimezone(zone):%Y-%m-%d %H:%M:%S}",
            "sensor": e.sensor,
            "label": e.label,
            "duration (s)": f"{e.duration_s:.0f}",
            "LAeq": _r(e.laeq_db),
            "LAFmax": _r(e.lafmax_db),
            "confidence": "" if e.confidence_peak is None else f"{e.confidence_peak:.2f}",
        }
        for e in events
    ]


def calibration_status(calibrated: date | None, today: date) -> str:
    if calibrated is None:
        return "never calibrated"
    age = (today - calibrated).days
    return "overdue" if age > CALIBRATION_DUE_DAYS else "ok"


def calibration_rows(sensors: Sequence[SensorCalibration], today: date) -> list[dict[str, str]]:
    return [
        {
            "sensor": s.sensor,
            "calibrated on": s.calibration_date.isoformat() if s.calibration_date else "—",
            "age (days)": str((today - s.calibration_date).days) if s.calibration_date else "—",
            "offset (dB)": _r(s.calibration_offset_db),
            "status": calibration_status(s.calibration_date, today),
        }
        for s in sensors
    ]


# -- exports -------------------------------------------------------------------------------


def export_resolutions(span: timedelta) -> list[Resolution]:
    """The resolutions offered for a range: 1 s only up to ``MAX_1S_SPAN``."""
    return [r for r in RESOLUTIONS if r.view != "levels" or span <= MAX_1S_SPAN]


def _checked(table: Table, cap: int) -> Table:
    if not table.complete:
        raise ExportTooLargeError(
            f"More than {cap:,} rows match: nothing was written. Choose a coarser resolution"
            " or a shorter range.".replace(",", " ")
        )
    return table


def table_frame(table: Table, cap: int = MAX_EXPORT_ROWS) -> pd.DataFrame:
    return pd.DataFrame(_checked(table, cap).rows, columns=list(table.columns))


def table_csv(table: Table, cap: int = MAX_EXPORT_ROWS) -> bytes:
    """CSV with one header row; times in ISO 8601 with their UTC offset."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_checked(table, cap).columns)
    for row in table.rows:
        writer.writerow([v.isoformat() if isinstance(v, datetime) else v for v in row])
    return out.getvalue().encode()


def table_parquet(table: Table, cap: int = MAX_EXPORT_ROWS) -> bytes:
    """Parquet (pyarrow, which Streamlit already depends on); times as UTC timestamps."""
    out = io.BytesIO()
    table_frame(table, cap).to_parquet(out, index=False)
    return out.getvalue()
