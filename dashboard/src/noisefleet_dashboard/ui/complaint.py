"""Complaint check page: site, local date and time, window → levels, events, alerts, verdict,
and the check as a one-page PDF."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from noisefleet_dashboard import charts, complaint, data, formatting, pdf, reports
from noisefleet_dashboard.access import may_see, scope_of
from noisefleet_dashboard.report_data import ReportData
from noisefleet_dashboard.resolution import choose_resolution


def page() -> None:
    cfg = data.config()
    user = data.signed_in_user()
    scope = scope_of(user)
    store, extra = data.Data(cfg, scope), ReportData(cfg, scope)
    st.title("Complaint check")
    wanted = st.query_params.get("site")
    if wanted is not None and not may_see(user, wanted):
        st.error(f"You may not see site {wanted!r}: ask an administrator to assign it to you.")
        st.stop()
    sites = {s.site: s for s in store.sites()}
    if not sites:
        st.info("No sites are assigned to you yet.")
        st.stop()
    names = list(sites)
    left, right = st.columns(2)
    site_id = left.selectbox(
        "Site",
        names,
        index=names.index(wanted) if wanted in sites else 0,
        format_func=lambda s: f"{sites[s].name or s} ({s})",
        key="complaint_site",
    )
    site = sites[site_id]
    sensors = store.site_sensors(site_id)
    if not sensors:
        st.info("This site has no assigned sensors yet.")
        st.stop()
    sensor = right.selectbox("Sensor", sensors, key="complaint_sensor")
    zone = ZoneInfo(site.timezone)
    local_now = data.floored_now(cfg).astimezone(zone)
    first, second, third = st.columns(3)
    day = first.date_input(f"Date ({site.timezone})", value=local_now.date(), key="complaint_day")
    at = second.time_input(
        "Time", value=time(local_now.hour, local_now.minute), step=300, key="complaint_time"
    )
    window_name = third.selectbox(
        "Window", list(complaint.WINDOWS), index=1, key="complaint_window"
    )
    half = complaint.WINDOWS[window_name]
    moment = complaint.complaint_moment(day, at, site.timezone)
    start, end = complaint.complaint_window(moment, half)
    resolution = choose_resolution(end - start, cfg.dashboard.max_points)
    points = extra.levels(site_id, sensor, start, end, resolution)
    result = complaint.check(
        site_id, site.timezone, site.limits, moment, half, points, resolution.bucket_s
    )
    events, alerts = extra.window(site_id, start, end)
    show = {"exceeded": st.error, "complies": st.success}.get(result.outcome, st.warning)
    show(result.text)
    if (note := complaint.period_note(result)) is not None:
        st.caption(note)
    a, b, c = st.columns(3)
    a.metric("LAeq", formatting.db(result.levels.laeq_db))
    b.metric("LAFmax", formatting.db(result.levels.lafmax_db))
    c.metric("Measured", formatting.percent(result.levels.coverage))
    details = [
        f"Site {site.name or site_id} ({site_id}), sensor {sensor}; times in {site.timezone}",
        f"Complaint time {moment:%a %Y-%m-%d %H:%M} ({result.period}), window "
        f"{start.astimezone(zone):%Y-%m-%d %H:%M} - {end.astimezone(zone):%H:%M} (± {half} min)",
        f"Limits: {formatting.limits_text(site.limits)} · resolution {resolution.label} · "
        f"measured {formatting.percent(result.levels.coverage)} · "
        f"LAFmax {formatting.db(result.levels.lafmax_db)}",
    ]
    st.caption(details[2])
    if points:
        series = formatting.level_series(points, site.limits, site.timezone)
        st.altair_chart(charts.level_chart(series, f"{site_id} / {sensor}"), key="complaint_chart")
    event_table = reports.event_rows(events, site.timezone)
    alert_table = reports.alert_rows(alerts, site.timezone)
    st.subheader(f"Events in the window ({len(events)})")
    if event_table:
        st.dataframe(pd.DataFrame(event_table), hide_index=True, key="complaint_events")
    st.subheader(f"Alerts in the window ({len(alerts)})")
    if alert_table:
        st.dataframe(pd.DataFrame(alert_table), hide_index=True, key="complaint_alerts")
    chart = pdf.ChartSeries(
        times=[p.start for p in points],
        laeq_db=[p.laeq_db for p in points],
        lafmax_db=[p.lafmax_db for p in points],
        limit_db=result.limit_db,
        caption=f"LAeq (blue) and LAFmax (orange) per {resolution.label}, limit dashed red; "
        f"{start.astimezone(zone):%H:%M} to {end.astimezone(zone):%H:%M} {site.timezone}",
        timezone=site.timezone,
    )
    document = pdf.complaint_pdf(
        f"Complaint check - {site.name or site_id}",
        result.text,
        details,
        chart,
        event_table,
        alert_table,
    )
    st.download_button(
        "Download the check (PDF)",
        document,
        file_name=f"complaint-{site_id}-{moment:%Y%m%d-%H%M}.pdf",
        mime="application/pdf",
        key="complaint_pdf",
    )


if __name__ == "__main__":
    page()
