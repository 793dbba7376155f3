"""The Streamlit app: resolve the signed-in user, then route (``st.navigation``).

Signed out, the only page is sign-in. Signed in: Fleet, Site, Sensor, Events, Alerts,
Complaint check, Reports and export, Admin (admins only) and a sign-out button."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from noisefleet_dashboard import data
from noisefleet_dashboard.access import may_admin
from noisefleet_dashboard.errors import DashboardError

UI = Path(__file__).parent / "ui"


def main() -> None:
    st.set_page_config(page_title="noisefleet", layout="wide")
    try:
        cfg = data.config()
        user = data.current_user(cfg)
    except DashboardError as error:
        st.error(str(error))
        st.stop()
    if user is None:
        navigation = st.navigation([st.Page(UI / "signin.py", title="Sign in", url_path="signin")])
    else:
        with st.sidebar:
            st.write(f"Signed in as **{user.username}** ({user.role})")
            if st.button("Sign out", key="signout"):
                data.sign_out(cfg)
                st.rerun()
        pages = [
            st.Page(UI / "fleet.py", title="Fleet", url_path="fleet", default=True),
            st.Page(UI / "site.py", title="Site", url_path="site"),
            st.Page(UI / "sensor.py", title="Sensor", url_path="sensor"),
            st.Page(UI / "events.py", title="Events", url_path="events"),
            st.Page(UI / "alerts.py", title="Alerts", url_path="alerts"),
            st.Page(UI / "complaint.py", title="Complaint check", url_path="complaint"),
            st.Page(UI / "reports.py", title="Reports and export", url_path="reports"),
        ]
        if may_admin(user):  # the page refuses others too
            pages.append(st.Page(UI / "admin.py", title="Admin", url_path="admin"))
        navigation = st.navigation(pages)
    try:
        navigation.run()
    except DashboardError as error:
        st.error(str(error))


main()
