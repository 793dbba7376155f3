"""The Site page's level chart (Altair): the LAF10–LAF90 band, LAeq, LAFmax and the limit in
force, on one time axis. One data set of one row per bucket (the lines fold its columns), so a
2000-point series stays under Altair's 5000-row limit. Pure: builds a chart specification from
``formatting.level_series`` rows; Streamlit only draws it."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

COLOURS = {"LAeq": "#1f77b4", "LAFmax": "#ff7f0e", "limit": "#d62728"}


def level_chart(series: Sequence[dict[str, object]], title: str) -> alt.LayerChart | alt.FacetChart:
    frame = pd.DataFrame(
        list(series), columns=["start", "LAeq", "LAFmax", "LAF10", "LAF90", "limit"]
    )
    base = alt.Chart(frame).encode(x=alt.X("start:T", title="time (UTC)"))
    band = base.mark_area(opacity=0.25, color=COLOURS["LAeq"]).encode(
        y=alt.Y("LAF90:Q", title="dB(A)", scale=alt.Scale(zero=False)),
        y2="LAF10:Q",
        tooltip=["start:T", "LAF10:Q", "LAF90:Q"],
    )
    lines = (
        base.transform_fold(["LAeq", "LAFmax", "limit"], as_=["level", "value"])
        .mark_line(interpolate="step-after")
        .encode(
            y=alt.Y("value:Q", scale=alt.Scale(zero=False)),
            color=alt.Color(
                "level:N",
                scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())),
                title=None,
            ),
            strokeDash=alt.condition(
                alt.datum.level == "limit", alt.value([6, 4]), alt.value([1, 0])
            ),
            tooltip=["start:T", "level:N", alt.Tooltip("value:Q", format=".1f")],
        )
    )
    return alt.layer(band, lines).properties(title=title, height=320)


def share_chart(rows: Sequence[dict[str, object]], bucket_title: str) -> alt.Chart:
    """Stacked bars: per bucket, the share of the energy per label (``causes`` rows)."""
    frame = pd.DataFrame(list(rows), columns=["start", "label", "share"])
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("start:T", title=bucket_title),
            y=alt.Y("share:Q", title="share of the energy (%)", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("label:N", title="cause"),
            order=alt.Order("share:Q", sort="descending"),
            tooltip=["start:T", "label:N", alt.Tooltip("share:Q", format=".1f")],
        )
        .properties(height=260)
    )
    return chart


def heat_map_chart(rows: Sequence[dict[str, object]]) -> alt.Chart:
    """Hour of day × local date, coloured by the hour's LAeq (``causes.heat_map_rows``)."""
    frame = pd.DataFrame(list(rows), columns=["day", "hour", "LAeq", "measured"])
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="hour of day (local)"),
            y=alt.Y("day:O", title="day (local)", sort="descending"),
            color=alt.Color("LAeq:Q", title="LAeq dB(A)", scale=alt.Scale(scheme="inferno")),
            tooltip=["day:O", "hour:O", alt.Tooltip("LAeq:Q", format=".1f"), "measured:Q"],
        )
        .properties(height=alt.Step(14))
    )
    return chart
