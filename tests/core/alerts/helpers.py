"""Building alert input series by hand: minutes at given levels, records, events, heartbeats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from noisefleet_core.alerts.series import EventSeries, HealthSeries, MinuteSeries, RecordSeries

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def epoch(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    tz: ZoneInfo = UTC,
) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()


def minutes(
    t0: float,
    levels_db: Sequence[float],
    *,
    measured_s: float = 60.0,
    lafmax_db: Sequence[float] | None = None,
    laf10_db: Sequence[float] | None = None,
    laf90_db: Sequence[float] | None = None,
    clipped: Sequence[int] | None = None,
    histograms: Sequence[tuple[int, Sequence[int]]] | None = None,
    width_db: float = 0.1,
) -> MinuteSeries:
    """One minute per level from t0 on (t0 a multiple of 60); NaN levels are unmeasured."""
    levels = np.asarray(levels_db, dtype=np.float64)
    n = levels.size
    starts = t0 + 60.0 * np.arange(n)
    measured = np.where(np.isnan(levels), 0.0, measured_s)
    energy = np.where(np.isnan(levels), 0.0, np.power(10.0, levels / 10.0) * measured)

    def column(values: Sequence[float] | None) -> np.ndarray:
        return np.full(n, np.nan) if values is None else np.asarray(values, dtype=np.float64)

    hist: dict[str, object] = {}
    if histograms is not None:
        hist = {
            "hist_width_db": width_db,
            "hist_first": np.array([first for first, _ in histograms], dtype=np.int64),
            "hist_counts": tuple(np.asarray(c, dtype=np.int64) for _, c in histograms),
        }
    return MinuteSeries(
        starts,
        energy,
        measured,
        column(lafmax_db),
        column(lafmax_db),
        column(laf10_db),
        column(laf90_db),
        np.zeros(n, dtype=np.int64) if clipped is None else np.asarray(clipped, dtype=np.int64),
        **hist,  # type: ignore[arg-type]
    )


def records(
    t0: float, levels_db: Sequence[float], lafmax_db: Sequence[float] | None = None
) -> RecordSeries:
    """1-s records from t0 on, fully covered."""
    levels = np.asarray(levels_db, dtype=np.float64)
    n = levels.size
    lafmax = levels if lafmax_db is None else np.asarray(lafmax_db, dtype=np.float64)
    ones = np.ones(n)
    return RecordSeries(
        t0 + np.arange(n, dtype=np.float64), ones, levels, lafmax, levels - 3, lafmax + 10, ones
    )


def events(rows: Sequence[tuple[float, float, str, float, float]]) -> EventSeries:
    """(start, end, label, confidence, lafmax) per event."""
    return EventSeries(
        np.array([r[0] for r in rows], dtype=np.float64),
        np.array([r[1] for r in rows], dtype=np.float64),
        tuple(r[2] for r in rows),
        np.array([r[3] for r in rows], dtype=np.float64),
        np.array([r[4] - 5 for r in rows], dtype=np.float64),
        np.array([r[4] for r in rows], dtype=np.float64),
    )


def heartbeats(
    at: Sequence[float],
    depth: Sequence[int] | None = None,
    synced: Sequence[bool] | None = None,
    errors: Sequence[str | None] | None = None,
    statuses: Sequence[tuple[float, str]] = (),
    calibration_date: float | None = None,
) -> HealthSeries:
    n = len(at)
    return HealthSeries(
        np.asarray(at, dtype=np.float64),
        np.asarray(depth if depth is not None else [0] * n, dtype=np.int64),
        np.asarray(synced if synced is not None else [True] * n, dtype=np.bool_),
        tuple(errors) if errors is not None else (None,) * n,
        np.array([s[0] for s in statuses], dtype=np.float64),
        tuple(s[1] for s in statuses),
        calibration_date,
    )
