"""Site page: one sensor's levels over a chosen span (band, LAFmax, limits) and Lden per day."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from noisefleet_dashboard import causes, charts, data, formatting
from noisefleet_dashboard.access import may_see, scope_of
from noisefleet_dashboard.resolution import SPANS, choose_resolution, window


def page() -> None:
    cfg = data.config()
    user = data.signed_in_user()
    store = data.Data(cfg, scope_of(user))
    st.title("Site")
    sites = {s.site: s for s in store.sites()}
    wanted = st.query_params.get("site")
    if wanted is not None and not may_see(user, wanted):
        st.error(f"You may not see site {wanted!r}: ask an administrator to assign it to you.")
        st.stop()
    if not sites:
        st.info("No sites are assigned to you yet.")
        st.stop()
    names = list(sites)
    site_id = st.selectbox(
        "Site",
        names,
        index=names.index(wanted) if wanted in sites else 0,
        format_func=lambda s: f"{sites[s].name or s} ({s})",
        key="site_site",
    )
    site = sites[site_id]
    sensors = store.site_sensors(site_id)
    if not sensors:
        st.info("This site has no assigned sensors yet.")
        st.stop()
    left, middle, right = st.columns(3)
    sensor = left.selectbox("Sensor", sensors, key="site_sensor")
    span_name = middle.selectbox("Span", list(SPANS), index=2, key="site_span")
    now = data.floored_now(cfg)
    today = now.astimezone(ZoneInfo(site.timezone)).date()
    until = right.date_input("Until (local day)", value=today, key="site_until")
    start, end = window(until, SPANS[span_name], site.timezone, now)
    resolution = choose_resolution(end - start, cfg.dashboard.max_points)
    points, (laeq, measured) = store.levels(site_id, sensor, start, end, resolution)
    st.caption(
        f"Limits: {formatting.limits_text(site.limits)} · resolution {resolution.label} · "
        f"{len(points)} points · times in UTC, periods in {site.timezone}"
    )
    first, second = st.columns(2)
    first.metric("LAeq over the span", formatting.db(laeq))
    second.metric("Measured", formatting.percent(measured))
    if points:
        series = formatting.level_series(points, site.limits, site.timezone)
        st.altair_chart(charts.level_chart(series, f"{site_id} / {sensor}"), key="site_chart")
    else:
        st.info("No levels in this span.")
    st.subheader("What caused the noise")
    shares, hours = store.causes(site_id, sensor, start, end)
    overall = causes.span_shares(shares, hours)
    if overall:
        shown = causes.top_labels(overall)
        bucket: causes.Bucket = "hour" if end - start <= timedelta(days=7) else "day"
        rows = causes.share_chart_rows(
            causes.bucket_shares(shares, hours, site.timezone, bucket), shown
        )
        st.caption(
            "Share of the A-weighted sound energy per cause (the classifier's labels; "
            "background: what no label explains), weighted by each hour's energy."
        )
        left, right = st.columns([1, 3])
        left.dataframe(
            pd.DataFrame(causes.share_table(overall)), hide_index=True, key="site_shares"
        )
        title = "hour (UTC)" if bucket == "hour" else f"day ({site.timezone})"
        right.altair_chart(charts.share_chart(rows, title), key="site_share_chart")
    else:
        st.info("No energy shares in this span (they come with the hourly roll-ups).")
    st.subheader("Hour × day")
    heat_start = min(start, end - timedelta(days=14))
    heat = causes.heat_map_rows(store.causes(site_id, sensor, heat_start, end)[1], site.timezone)
    if heat:
        st.caption(f"LAeq per hour of day (local time, {site.timezone}), the last 14 days or more.")
        st.altair_chart(charts.heat_map_chart(heat), key="site_heat_map")
    else:
        st.info("No hourly levels in this period yet.")
    st.subheader("Lden per day")
    first_day = min(until - timedelta(days=13), (start.date()))
    days = store.lden(site_id, sensor, first_day, until)
    if days:
        table = pd.DataFrame(formatting.lden_table(days, site.limits))
        st.dataframe(table, hide_index=True, key="site_lden")
    else:
        st.info("No Lden days in this period yet (days run 07:00–07:00 local time).")


if __name__ == "__main__":
    page()
