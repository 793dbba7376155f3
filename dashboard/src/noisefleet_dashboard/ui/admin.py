"""Admin page (admins only): users (add, role, sites, disable/enable, new password), sites
(add or edit: name, kind, time zone, address, position, limits) and pending sensors to assign."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from noisefleet_dashboard import data
from noisefleet_dashboard.access import ROLES, may_admin
from noisefleet_dashboard.admin_data import AdminData
from noisefleet_dashboard.errors import DashboardError
from noisefleet_server.registry import PERIODS, SITE_KINDS

NOTICE = "admin_notice"
NEW_SITE = "(new site)"


def _done(text: str) -> None:
    st.session_state[NOTICE] = text
    st.rerun()


def _users(admin: AdminData, site_ids: list[str]) -> None:
    st.subheader("Users")
    users = admin.users()
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "user": u.username,
                    "role": u.role,
                    "sites": "all" if u.role == "admin" else ", ".join(u.sites) or "—",
                    "state": "disabled" if u.disabled else "active",
                    "failed sign-ins": u.failed_count,
                    "locked until": u.locked_until,
                }
                for u in users
            ]
        ),
        hide_index=True,
        key="admin_users",
    )
    with st.form("admin_add_user", clear_on_submit=True):
        st.markdown("**Add a user**")
        cols = st.columns(4)
        username = cols[0].text_input("Username", key="admin_new_username")
        password = cols[1].text_input("Password", type="password", key="admin_new_password")
        role = cols[2].selectbox("Role", ROLES, index=2, key="admin_new_role")
        sites = cols[3].multiselect("Sites", site_ids, key="admin_new_sites")
        if st.form_submit_button("Add user", type="primary"):
            try:
                admin.add_user(username, password, role, sites)
            except DashboardError as error:
                st.error(str(error))
            else:
                _done(f"User {username.strip().lower()} added ({role}).")
    by_name = {u.username: u for u in users}
    if not by_name:
        return
    st.markdown("**Change a user**")
    chosen = st.selectbox("User", list(by_name), key="admin_edit_user")
    current = by_name[chosen]
    with st.form(f"admin_edit_{chosen}"):
        edit = st.columns(3)
        role = edit[0].selectbox("Role", ROLES, index=ROLES.index(current.role))
        sites = edit[1].multiselect(
            "Sites", sorted(set(site_ids) | set(current.sites)), default=current.sites
        )
        disabled = edit[2].checkbox("Disabled", value=current.disabled)
        if st.form_submit_button("Save user"):
            try:
                admin.update_user(chosen, role=role, sites=sites, disabled=disabled)
            except DashboardError as error:
                st.error(str(error))
            else:
                _done(f"User {chosen} saved: {role}, {'disabled' if disabled else 'active'}.")
    with st.form(f"admin_password_{chosen}", clear_on_submit=True):
        password = st.text_input(f"New password for {chosen}", type="password")
        if st.form_submit_button("Reset password"):
            try:
                admin.reset_password(chosen, password)
            except DashboardError as error:
                st.error(str(error))
            else:
                _done(f"Password of {chosen} reset: unlocked, signed out everywhere.")


def _limit(value: float) -> float | None:
    return value if value > 0 else None


def _sites(admin: AdminData) -> list[str]:
    st.subheader("Sites")
    sites = {s.site: s for s in admin.sites()}
    if sites:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "site": s.site,
                        "name": s.name,
                        "kind": s.kind,
                        "time zone": s.timezone,
                        "limits": ", ".join(f"{k} {v:g}" for k, v in s.limits.items()) or "—",
                        "lat": s.lat,
                        "lon": s.lon,
                    }
                    for s in sites.values()
                ]
            ),
            hide_index=True,
            key="admin_sites",
        )
    chosen = st.selectbox("Add or edit", [NEW_SITE, *sites], key="admin_site_choice")
    old = sites.get(chosen)
    with st.form(f"admin_site_{chosen}"):
        cols = st.columns(4)
        site_id = cols[0].text_input("Site id", value=old.site if old else "", disabled=bool(old))
        name = cols[1].text_input("Name", value=(old.name or "") if old else "")
        kind = cols[2].selectbox("Kind", SITE_KINDS, index=SITE_KINDS.index(old.kind) if old else 0)
        timezone = cols[3].text_input("Time zone (IANA)", value=old.timezone if old else "UTC")
        place = st.columns(3)
        address = place[0].text_input("Address", value=(old.address or "") if old else "")
        lat = place[1].number_input("Latitude", -90.0, 90.0, value=old.lat if old else None)
        lon = place[2].number_input("Longitude", -180.0, 180.0, value=old.lon if old else None)
        columns = st.columns(len(PERIODS))
        limits = {
            period: columns[i].number_input(
                f"{period.capitalize()} limit dB(A) (0: none)",
                0.0,
                199.0,
                value=float(old.limits.get(period, 0.0)) if old else 0.0,
            )
            for i, period in enumerate(PERIODS)
        }
        st.caption(
            "Empty fields keep what is stored; all limits 0 keep the stored limits "
            "(the registry's `sites add` rules)."
        )
        if st.form_submit_button("Save site", type="primary"):
            target = old.site if old else site_id
            try:
                new = admin.save_site(
                    target,
                    kind=kind,
                    timezone=timezone,
                    name=name,
                    address=address,
                    lat=lat,
                    lon=lon,
                    limits={p: v for p, v in limits.items() if _limit(v) is not None},
                )
            except DashboardError as error:
                st.error(str(error))
            else:
                _done(f"Site {target} {'added' if new else 'saved'}.")
    return list(sites)


def _pending(admin: AdminData) -> None:
    st.subheader("Pending sensors")
    pending = admin.pending()
    if not pending:
        st.caption("No sensors are waiting to be assigned.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "site": p.site,
                    "sensor": p.sensor,
                    "first seen": p.first_seen,
                    "last seen": p.last_seen,
                    "site registered": "yes" if p.site_registered else "no: add it above",
                }
                for p in pending
            ]
        ),
        hide_index=True,
        key="admin_pending",
    )
    choices = {f"{p.site}/{p.sensor}": p for p in pending}
    left, right = st.columns([3, 1])
    chosen = left.selectbox("Sensor", list(choices), key="admin_assign_choice")
    if right.button("Assign to its site", key="admin_assign"):
        p = choices[chosen]
        try:
            admin.assign_sensor(p.site, p.sensor)
        except DashboardError as error:
            st.error(str(error))
        else:
            _done(f"Sensor {chosen} assigned to site {p.site}.")


def page() -> None:
    cfg = data.config()
    user = data.signed_in_user()
    st.title("Admin")
    if not may_admin(user):
        st.error("Only administrators manage users, sites and sensors.")
        st.stop()
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.success(notice)
    admin = AdminData(cfg, user)
    site_ids = _sites(admin)
    _pending(admin)
    _users(admin, site_ids)


if __name__ == "__main__":
    page()
