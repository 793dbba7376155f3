"""Reports and export page: a site's compliance report for a run of days (PDF and CSV), and
CSV/Parquet exports of levels and events for a chosen range."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from noisefleet_core.acoustics.combine import DenPeriods, den_day_bounds
from noisefleet_dashboard import data, formatting, pdf, reports
from noisefleet_dashboard.access import may_see, scope_of
from noisefleet_dashboard.queries import SiteRow
from noisefleet_dashboard.report_data import ReportData


def _report(extra: ReportData, site: SiteRow, local_today: datetime) -> None:
    st.header("Compliance report")
    left, right = st.columns(2)
    first = left.date_input(
        "First day", value=local_today.date() - timedelta(days=7), key="report_first"
    )
    last = right.date_input("Last day", value=local_today.date(), key="report_last")
    if last < first:
        st.error("The last day is before the first day.")
        return
    periods = DenPeriods(timezone=site.timezone)
    start, end = den_day_bounds(first, periods)[0], den_day_bounds(last, periods)[1]
    days_by_sensor, alerts, sensors = extra.report(site.site, first, last, start, end)
    rows = reports.compliance_rows(days_by_sensor, site.limits)
    counts = reports.summary(rows)
    a, b, c = st.columns(3)
    a.metric("Days complying", counts["complies"])
    b.metric("Days exceeded", counts["exceeded"])
    c.metric("Days incomplete", counts["incomplete"])
    day_table = reports.day_table(rows)
    alert_table = reports.alert_rows(alerts, site.timezone)
    calibration_table = reports.calibration_rows(sensors, local_today.date())
    st.subheader("Per day")
    if day_table:
        st.dataframe(pd.DataFrame(day_table), hide_index=True, key="report_days")
    else:
        st.info("No Lden days in this period (days run 07:00–07:00 local time).")
    st.subheader(f"Exceedances: alerts in the period ({len(alerts)})")
    if alert_table:
        st.dataframe(pd.DataFrame(alert_table), hide_index=True, key="report_alerts")
    st.subheader("Calibration")
    st.dataframe(pd.DataFrame(calibration_table), hide_index=True, key="report_calibration")
    details = [
        f"Site {site.name or site.site} ({site.site}), {site.kind}; {first} to {last}"
        f" (Lden days 07:00-07:00 {site.timezone})",
        f"Limits: {formatting.limits_text(site.limits)}",
        f"{counts['complies']} sensor-days comply, {counts['exceeded']} exceeded, "
        f"{counts['incomplete']} incomplete (coverage below 80 %)",
    ]
    name = f"report-{site.site}-{first}-{last}"
    one, two = st.columns(2)
    one.download_button(
        "Report (PDF)",
        pdf.report_pdf(
            f"Compliance report - {site.name or site.site}",
            details,
            day_table,
            alert_table,
            calibration_table,
        ),
        file_name=f"{name}.pdf",
        mime="application/pdf",
        key="report_pdf",
    )
    two.download_button(
        "Report (CSV)",
        reports.report_csv(site.site, rows),
        file_name=f"{name}.csv",
        mime="text/csv",
        key="report_csv",
    )


def _export(extra: ReportData, site: SiteRow, local_today: datetime) -> None:
    st.header("Export")
    zone = ZoneInfo(site.timezone)
    left, right, kind_column = st.columns(3)
    first = left.date_input("From (local day)", value=local_today.date(), key="export_first")
    last = right.date_input("To (local day)", value=local_today.date(), key="export_last")
    kind = kind_column.selectbox("Data", ["levels", "events"], key="export_kind")
    if last < first:
        st.error("The last day is before the first day.")
        return
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    if kind == "levels":
        offered = reports.export_resolutions(end - start)
        resolution = st.selectbox(
            "Resolution",
            offered,
            index=0,
            format_func=lambda r: r.label,
            key="export_resolution",
        )
        if len(offered) < 4:
            st.caption("1-s levels are offered for ranges up to 6 h; choose 1 min or coarser.")
    file_format = st.radio("Format", ["CSV", "Parquet"], horizontal=True, key="export_format")
    if not st.button("Prepare the file", key="export_prepare"):
        return
    cap = reports.MAX_EXPORT_ROWS
    if kind == "levels":
        table = extra.export_levels(site.site, start, end, resolution, cap)
        name = f"levels-{site.site}-{first}-{last}-{resolution.label.replace(' ', '')}"
    else:
        table = extra.export_events(site.site, start, end, cap)
        name = f"events-{site.site}-{first}-{last}"
    try:
        if file_format == "CSV":
            payload, mime, suffix = reports.table_csv(table, cap), "text/csv", "csv"
        else:
            payload = reports.table_parquet(table, cap)
            mime, suffix = "application/vnd.apache.parquet", "parquet"
    except reports.ExportTooLargeError as error:
        st.error(str(error))
        return
    st.caption(f"Rows: {len(table.rows)}; times in UTC.")
    st.download_button(
        f"Download {kind} ({file_format})",
        payload,
        file_name=f"{name}.{suffix}",
        mime=mime,
        key="export_download",
    )


def page() -> None:
    cfg = data.config()
    user = data.signed_in_user()
    scope = scope_of(user)
    store, extra = data.Data(cfg, scope), ReportData(cfg, scope)
    st.title("Reports and export")
    wanted = st.query_params.get("site")
    if wanted is not None and not may_see(user, wanted):
        st.error(f"You may not see site {wanted!r}: ask an administrator to assign it to you.")
        st.stop()
    sites = {s.site: s for s in store.sites()}
    if not sites:
        st.info("No sites are assigned to you yet.")
        st.stop()
    names = list(sites)
    site_id = st.selectbox(
        "Site",
        names,
        index=names.index(wanted) if wanted in sites else 0,
        format_func=lambda s: f"{sites[s].name or s} ({s})",
        key="reports_site",
    )
    site = sites[site_id]
    local_today = data.floored_now(cfg).astimezone(ZoneInfo(site.timezone))
    _report(extra, site, local_today)
    _export(extra, site, local_today)


if __name__ == "__main__":
    page()
