"""Events page: a site's events by label over a span: timeline, counts per hour of day, a
filterable table and one event's 1-s levels around it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from noisefleet_dashboard import data, event_charts, events, formatting
from noisefleet_dashboard.access import may_see, scope_of
from noisefleet_dashboard.data_pages import EVENT_ROWS, PagesData
from noisefleet_dashboard.event_queries import EventFilter
from noisefleet_dashboard.resolution import SPANS, window

ALL = "(all)"


def page() -> None:
    cfg = data.config()
    user = data.signed_in_user()
    scope = scope_of(user)
    store, more = data.Data(cfg, scope), PagesData(cfg, scope)
    st.title("Events")
    sites = {s.site: s for s in store.sites()}
    wanted = st.query_params.get("site")
    if wanted is not None and not may_see(user, wanted):
        st.error(f"You may not see site {wanted!r}: ask an administrator to assign it to you.")
        st.stop()
    if not sites:
        st.info("No sites are assigned to you yet.")
        st.stop()
    names = list(sites)
    first, second, third, fourth = st.columns(4)
    site_id = first.selectbox(
        "Site",
        names,
        index=names.index(wanted) if wanted in sites else 0,
        format_func=lambda s: f"{sites[s].name or s} ({s})",
        key="events_site",
    )
    site = sites[site_id]
    sensor = second.selectbox("Sensor", [ALL, *store.site_sensors(site_id)], key="events_sensor")
    span_name = third.selectbox("Span", list(SPANS), index=3, key="events_span")
    now = data.floored_now(cfg)
    until = fourth.date_input(
        "Until (local day)",
        value=now.astimezone(ZoneInfo(site.timezone)).date(),
        key="events_until",
    )
    left, right = st.columns([3, 1])
    labels = left.multiselect("Labels (none: all)", more.labels(site_id), key="events_labels")
    min_conf = right.slider("Min confidence", 0.0, 1.0, 0.0, 0.05, key="events_min_conf")
    start, end = window(until, SPANS[span_name], site.timezone, now)
    f = EventFilter(
        site=site_id,
        start=start,
        end=end,
        sensor=None if sensor == ALL else sensor,
        labels=tuple(labels),
        min_confidence=float(min_conf),
    )
    total, rows = more.events(f)
    st.metric("Events", total)
    if not total:
        st.info("No events match in this span.")
        st.stop()
    st.subheader("Timeline")
    bucket = events.timeline_bucket_s(end - start, total, len({r.label for r in rows}) or 1)
    if bucket is None:
        st.altair_chart(event_charts.event_timeline(rows), key="events_timeline")
    else:
        st.caption(f"{total} events: counted per {formatting.bucket_label(bucket)}")
        chart = event_charts.bucket_timeline(
            more.timeline(f, bucket), formatting.bucket_label(bucket)
        )
        st.altair_chart(chart, key="events_timeline")
    st.subheader(f"Per hour of day ({site.timezone})")
    hours = more.hours(f, site.timezone)
    st.altair_chart(event_charts.hour_chart(hours), key="events_hours")
    st.subheader("Events")
    if total > len(rows):
        st.caption(f"The newest {EVENT_ROWS} of {total} events.")
    st.dataframe(
        pd.DataFrame(events.event_table(rows, site.timezone)), hide_index=True, key="events_table"
    )
    st.subheader("Event detail")
    by_id = {r.event_id: r for r in rows}
    chosen = st.selectbox(
        "Event",
        list(by_id),
        format_func=lambda e: events.event_choice(by_id[e], site.timezone),
        key="events_detail",
    )
    row = by_id[chosen]
    d_start, d_end = events.detail_window(row)
    points = more.seconds(site_id, row.sensor, d_start, d_end)
    st.caption(
        f"{row.label} at {row.sensor}: {row.duration_s:.1f} s, LAeq {row.laeq_db:.1f} dB, "
        f"LAFmax {row.lafmax_db:.1f} dB · {len(points)} s of levels (±2 min)"
    )
    if points:
        detail = event_charts.detail_chart(points, row.start, events.event_end(row))
        st.altair_chart(detail, key="events_detail_chart")
    else:
        st.info("No 1-s levels stored around this event.")


if __name__ == "__main__":
    page()
