"""The Events page's logic, pure: how finely the timeline is drawn, the hour-of-day table, the
event table's rows and the window of 1-s levels around an event.

- The timeline draws one mark per event while there are at most ``max_marks``; beyond that it
  counts events per label in buckets, the finest of ``BUCKETS_S`` that keeps
  buckets × labels within ``max_marks`` (Altair and the browser stay fast).
- Hours of day are in the site's time zone; every hour 0..23 is listed, empty ones with 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from noisefleet_dashboard.event_queries import EventRow, HourCount

MAX_MARKS = 2000
BUCKETS_S = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
DETAIL_MARGIN = timedelta(minutes=2)
"""The 1-s levels shown around an event: this long before its start and after its end."""


def timeline_bucket_s(
    span: timedelta, events: int, labels: int, max_marks: int = MAX_MARKS
) -> int | None:
    """None: draw each event; else the bucket length in seconds to count events in."""
    if events <= max_marks:
        return None
    for bucket in BUCKETS_S:
        if math.ceil(span.total_seconds() / bucket) * max(labels, 1) <= max_marks:
            return bucket
    return BUCKETS_S[-1]


def hour_table(hour_counts: Iterable[HourCount]) -> list[dict[str, object]]:
    """One row per hour of day (0..23): the total and one column per label."""
    counts = list(hour_counts)
    labels = sorted({c.label for c in counts})
    rows: list[dict[str, object]] = [
        {"hour": h, "events": 0, **dict.fromkeys(labels, 0)} for h in range(24)
    ]
    for c in counts:
        row = rows[c.hour]
        row[c.label] = c.count
        row["events"] = int(str(row["events"])) + c.count
    return rows


def event_table(rows: Sequence[EventRow], timezone: str) -> list[dict[str, object]]:
    """The table's rows: local start time, duration and levels rounded for reading."""
    zone = ZoneInfo(timezone)
    return [
        {
            "start (local)": r.start.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            "label": r.label,
            "sensor": r.sensor,
            "duration (s)": round(r.duration_s, 1),
            "LAeq": round(r.laeq_db, 1),
            "LAFmax": round(r.lafmax_db, 1),
            "confidence": None if r.confidence_peak is None else round(r.confidence_peak, 2),
            "final": r.final,
            "id": r.event_id,
        }
        for r in rows
    ]


def event_end(row: EventRow) -> datetime:
    return row.start + timedelta(seconds=row.duration_s)


def detail_window(row: EventRow) -> tuple[datetime, datetime]:
    """[start − 2 min, end + 2 min): the 1-s levels shown with an event."""
    return row.start - DETAIL_MARGIN, event_end(row) + DETAIL_MARGIN


def event_choice(row: EventRow, timezone: str) -> str:
    local = row.start.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")
    return f"{local} · {row.label} · {row.sensor} · {row.duration_s:.0f} s"
