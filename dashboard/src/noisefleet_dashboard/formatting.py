"""How values read for the pages are shown: levels, ages, shares, and the rows of the Fleet
and Site tables. Pure: the pages turn these rows into tables and charts unchanged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from noisefleet_dashboard.compliance import MARKS, PERIODS, day_verdict, limit_at, sensor_state
from noisefleet_dashboard.queries import FleetRow, LdenDay, LevelPoint

STATE_MARKS = {"online": "🟢 online", "offline": "🔴 offline", "never seen": "⚪ never seen"}


def db(value: float | None) -> str:
    """A level in dB to one decimal; an em dash for none."""
    return "—" if value is None else f"{value:.1f} dB"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f} %"


def age(delta: timedelta | None) -> str:
    """A duration as the largest sensible unit ("42 s", "5 min", "3 h", "12 d")."""
    if delta is None:
        return "—"
    seconds = max(0.0, delta.total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def model_version(name: str | None, sha256: str | None) -> str:
    if not name and not sha256:
        return "—"
    short = f" ({sha256[:8]})" if sha256 else ""
    return f"{name or 'unnamed'}{short}"


def calibration_age_days(calibrated_on: date | None, today: date) -> int | None:
    return None if calibrated_on is None else (today - calibrated_on).days


def fleet_table(
    rows: Sequence[FleetRow], now: datetime, offline_after_s: float
) -> list[dict[str, object]]:
    """The Fleet page's table: one row per sensor, in the order given."""
    table: list[dict[str, object]] = []
    for row in rows:
        state = sensor_state(row.status, row.last_seen, now, offline_after_s)
        calibration = calibration_age_days(row.calibration_date, now.date())
        table.append(
            {
                "site": row.site,
                "sensor": row.sensor,
                "state": STATE_MARKS[state],
                "last seen": age(now - row.last_seen) + " ago" if row.last_seen else "never",
                "coverage today": percent(row.coverage_today),
                "outbox": row.outbox_depth,
                "calibration age (d)": calibration,
                "model": model_version(row.model_name, row.model_sha256),
                "open alerts": row.open_alerts,
            }
        )
    return table


def level_series(
    points: Sequence[LevelPoint], limits: Mapping[str, float], timezone: str
) -> list[dict[str, object]]:
    """Chart rows: the levels of each bucket and the limit in force at its start (local time
    of the site on the time axis)."""
    return [
        {
            "start": p.start,
            "LAeq": p.laeq_db,
            "LAFmax": p.lafmax_db,
            "LAF10": p.laf10_db,
            "LAF90": p.laf90_db,
            "limit": limit_at(p.start, limits, timezone),
            "coverage": p.coverage,
        }
        for p in points
    ]


def lden_table(days: Sequence[LdenDay], limits: Mapping[str, float]) -> list[dict[str, object]]:
    """The Site page's per-day table: period levels, Lden, coverage and the compliance mark."""
    table: list[dict[str, object]] = []
    for d in days:
        verdict = day_verdict(
            {"day": d.lday_db, "evening": d.levening_db, "night": d.lnight_db}, limits, d.coverage
        )
        mark = MARKS[verdict.verdict]
        if verdict.exceeded:
            mark += f" ({', '.join(verdict.exceeded)})"
        table.append(
            {
                "day": d.day,
                "Lday": _round(d.lday_db),
                "Levening": _round(d.levening_db),
                "Lnight": _round(d.lnight_db),
                "Lden": _round(d.lden_db),
                "coverage": percent(d.coverage),
                "compliance": mark,
            }
        )
    return table


def limits_text(limits: Mapping[str, float]) -> str:
    if not limits:
        return "no limits set (noisefleet-server sites add … --limit day=55)"
    return ", ".join(f"{p} {float(limits[p]):g} dB" for p in PERIODS if p in limits)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def bucket_label(bucket_s: int) -> str:
    """A bucket length in words: "5 min", "1 h", "1 d"."""
    if bucket_s % 86400 == 0:
        return f"{bucket_s // 86400} d"
    if bucket_s % 3600 == 0:
        return f"{bucket_s // 3600} h"
    return f"{bucket_s // 60} min"
