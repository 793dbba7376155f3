"""The Events page's charts (Altair specifications; Streamlit only draws them): the timeline by
label (one bar per event, or counts per bucket when there are many), events per hour of day,
and an event's 1-s levels with its span shaded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import altair as alt
import pandas as pd

from noisefleet_dashboard.event_queries import EventRow, HourCount, LabelBucket
from noisefleet_dashboard.events import event_end
from noisefleet_dashboard.queries import LevelPoint


def event_timeline(rows: Sequence[EventRow]) -> alt.Chart:
    frame = pd.DataFrame(
        [
            {
                "start": r.start,
                "end": event_end(r),
                "label": r.label,
                "sensor": r.sensor,
                "LAeq": r.laeq_db,
            }
            for r in rows
        ],
        columns=["start", "end", "label", "sensor", "LAeq"],
    )
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar(height=12)
        .encode(
            x=alt.X("start:T", title="time"),
            x2="end:T",
            y=alt.Y("label:N", title=None),
            color=alt.Color("label:N", legend=None),
            tooltip=[
                "start:T",
                "end:T",
                "label:N",
                "sensor:N",
                alt.Tooltip("LAeq:Q", format=".1f"),
            ],
        )
        .properties(height=alt.Step(24))
    )
    return chart


def bucket_timeline(buckets: Sequence[LabelBucket], bucket_title: str) -> alt.Chart:
    frame = pd.DataFrame(
        [{"start": b.start, "label": b.label, "events": b.count} for b in buckets],
        columns=["start", "label", "events"],
    )
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("start:T", title=f"time (per {bucket_title})"),
            y=alt.Y("events:Q", stack=True),
            color=alt.Color("label:N"),
            tooltip=["start:T", "label:N", "events:Q"],
        )
        .properties(height=240)
    )
    return chart


def hour_chart(counts: Sequence[HourCount]) -> alt.Chart:
    frame = pd.DataFrame(
        [{"hour": c.hour, "label": c.label, "events": c.count} for c in counts],
        columns=["hour", "label", "events"],
    )
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "hour:O", title="hour of day (site time)", scale=alt.Scale(domain=list(range(24)))
            ),
            y=alt.Y("events:Q", stack=True),
            color=alt.Color("label:N"),
            tooltip=["hour:O", "label:N", "events:Q"],
        )
        .properties(height=200)
    )
    return chart


def detail_chart(
    points: Sequence[LevelPoint], start: datetime, end: datetime
) -> alt.LayerChart | alt.FacetChart:
    levels = pd.DataFrame(
        [{"time": p.start, "LAeq": p.laeq_db, "LAFmax": p.lafmax_db} for p in points],
        columns=["time", "LAeq", "LAFmax"],
    )
    span = pd.DataFrame([{"start": start, "end": end}])
    shade = (
        alt.Chart(span)
        .mark_rect(opacity=0.2, color="#ff7f0e")
        .encode(x=alt.X("start:T", title="time"), x2="end:T")
    )
    lines = (
        alt.Chart(levels)
        .transform_fold(["LAeq", "LAFmax"], as_=["level", "value"])
        .mark_line(interpolate="step-after")
        .encode(
            x="time:T",
            y=alt.Y("value:Q", title="dB(A)", scale=alt.Scale(zero=False)),
            color=alt.Color("level:N", title=None),
            tooltip=["time:T", "level:N", alt.Tooltip("value:Q", format=".1f")],
        )
    )
    return alt.layer(shade, lines).properties(height=260)
