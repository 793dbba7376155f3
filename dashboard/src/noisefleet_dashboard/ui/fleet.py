"""Fleet page: every sensor the user may see, its health, and sensors waiting to be assigned."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from noisefleet_dashboard import data, formatting
from noisefleet_dashboard.access import may_admin, scope_of

SENSOR_PAGE = Path(__file__).parent / "sensor.py"


def page() -> None:
    cfg = data.config()
    user = data.signed_in_user()
    store = data.Data(cfg, scope_of(user))
    at = data.floored_now(cfg)
    st.title("Fleet")
    rows = store.fleet(at)
    table = formatting.fleet_table(rows, at, cfg.dashboard.offline_after_s)
    online = sum(1 for r in table if str(r["state"]).endswith("online"))
    first, second, third = st.columns(3)
    first.metric("Sensors online", f"{online} / {len(table)}")
    second.metric("Open alerts", sum(r.open_alerts for r in rows))
    third.metric("Sites", len({r.site for r in rows}))
    if table:
        picked = st.dataframe(
            pd.DataFrame(table),
            hide_index=True,
            key="fleet_table",
            on_select="rerun",
            selection_mode="single-row",
        )
        st.markdown("Select a sensor's row to open its Sensor page (health, settings, model).")
        if picked.selection.rows:
            row = table[picked.selection.rows[0]]
            link = {"site": str(row["site"]), "sensor": str(row["sensor"])}
            st.switch_page(SENSOR_PAGE, query_params=link)
    else:
        st.info("No sensors at your sites yet.")
    located = [
        {"site": s.site, "lat": s.lat, "lon": s.lon}
        for s in store.sites()
        if s.lat is not None and s.lon is not None
    ]
    if located:
        st.subheader("Map")
        st.map(pd.DataFrame(located), latitude="lat", longitude="lon", zoom=10)
    pending = store.pending()
    if pending:
        st.subheader("Pending sensors")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "site": p.site,
                        "sensor": p.sensor,
                        "first seen": p.first_seen,
                        "last seen": p.last_seen,
                        "site registered": p.site_registered,
                    }
                    for p in pending
                ]
            ),
            hide_index=True,
            key="fleet_pending",
        )
        if may_admin(user):
            st.caption(
                "Assign them on the Admin page (or `noisefleet-server sensors assign SITE "
                "SENSOR`; register the site first)."
            )


if __name__ == "__main__":
    page()
