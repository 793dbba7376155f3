"""Alerts page: open and resolved alerts with filters, acknowledgement with a comment
(operators and admins), and the rule editor: TOML drafts (or the level-rule form) checked with
the rules in force, a replay preview of the last 7 days, saving into the database."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from noisefleet_core.alerts.errors import RuleError
from noisefleet_dashboard import alerts_view, data
from noisefleet_dashboard.access import User, may_write, scope_of
from noisefleet_dashboard.alert_queries import ALERT_STATES, AlertFilter, NotAllowedError
from noisefleet_dashboard.data_pages import PagesData

ANY = "(any)"
SINCE = {"7 days": 7, "30 days": 30, "365 days": 365}
LATE = {ANY: None, "late only": True, "live only": False}
PREVIEW_DAYS = 7
DRAFT_KEY = "alerts_draft"


def _alert_list(more: PagesData, user: User, site_ids: list[str]) -> None:
    cols = st.columns(5)
    states = cols[0].multiselect(
        "State", ALERT_STATES, default=["pending", "firing"], key="alerts_states"
    )
    site = cols[1].selectbox("Site", [ANY, *site_ids], key="alerts_site")
    rule = cols[2].selectbox("Rule", [ANY, *more.rule_ids()], key="alerts_rule")
    late = cols[3].selectbox("Late", list(LATE), key="alerts_late")
    since = cols[4].selectbox("Open within", list(SINCE), index=1, key="alerts_since")
    now = data.floored_now(more.cfg)
    f = AlertFilter(
        states=tuple(states) or ALERT_STATES,
        site=None if site == ANY else site,
        rule_id=None if rule == ANY else rule,
        late=LATE[late],
        since=now - timedelta(days=SINCE[since]),
    )
    rows = more.alerts(f)
    st.metric("Alerts", len(rows))
    if not rows:
        st.info("No alerts match.")
        return
    st.caption("Times (since, fired, resolved) in UTC; the sites' own time zones on their pages.")
    st.dataframe(pd.DataFrame(alerts_view.alert_table(rows)), hide_index=True, key="alerts_table")
    writable = {r.alert_id: r for r in rows if may_write(user, r.site)}
    if not writable:
        return
    st.subheader("Acknowledge")
    chosen = st.selectbox(
        "Alert",
        list(writable),
        format_func=lambda a: alerts_view.alert_choice(writable[a]),
        key="alerts_ack_id",
    )
    comment = st.text_input("Comment", key="alerts_ack_comment")
    if st.button("Acknowledge", key="alerts_ack"):
        try:
            more.acknowledge(user, chosen, comment)
        except NotAllowedError as error:
            st.error(str(error))
        else:
            st.success(f"Alert #{chosen} acknowledged by {user.username}.")
            st.rerun()


def _fill_from_form() -> None:
    s = st.session_state
    active = (s["alerts_form_from"], s["alerts_form_to"]) if s["alerts_form_night"] else None
    s[DRAFT_KEY] = alerts_view.level_rule_toml(
        s["alerts_form_id"],
        s["alerts_form_metric"],
        int(s["alerts_form_window"]),
        float(s["alerts_form_limit"]),
        int(s["alerts_form_duration"]),
        sites=s["alerts_form_sites"],
        active=active,
    )


def _rule_form(site_ids: list[str]) -> None:
    with st.expander("Level rule form (fills the editor)"):
        cols = st.columns(4)
        cols[0].text_input("Id", "loud", key="alerts_form_id")
        cols[1].selectbox("Metric", alerts_view.LEVEL_METRICS, key="alerts_form_metric")
        cols[2].number_input("Window (s)", 1, 57600, 60, key="alerts_form_window")
        cols[3].number_input("Limit (dB)", 0.0, 200.0, 65.0, key="alerts_form_limit")
        cols = st.columns(4)
        cols[0].number_input("Min duration (s)", 0, 86400, 0, key="alerts_form_duration")
        cols[1].multiselect("Sites (none: all)", site_ids, key="alerts_form_sites")
        cols[2].checkbox("Only between", key="alerts_form_night")
        cols[3].text_input("From – to", "22:00", key="alerts_form_from")
        cols[3].text_input("to", "07:00", key="alerts_form_to", label_visibility="collapsed")
        st.button("Put in the editor", key="alerts_form_fill", on_click=_fill_from_form)


def _rule_editor(more: PagesData, user: User, site_ids: list[str]) -> None:
    st.subheader("Rules")
    stored = more.db_rules()
    if stored:
        table = [
            {"id": k, "kind": b.get("kind"), "sites": ", ".join(b.get("sites", [])) or "all"}
            for k, b in stored.items()
        ]
        st.dataframe(pd.DataFrame(table), hide_index=True, key="alerts_rules")
        load = st.selectbox("Edit a stored rule", ["", *stored], key="alerts_load")
        if load and st.button("Load into the editor", key="alerts_load_button"):
            st.session_state[DRAFT_KEY] = alerts_view.rules_toml([stored[load]])
    _rule_form(site_ids)
    text = st.text_area("Draft rules (TOML [[rules]] tables)", key=DRAFT_KEY, height=220)
    left, right = st.columns(2)
    check = left.button("Check and preview", key="alerts_check")
    save = right.button("Save", key="alerts_save", type="primary")
    if not (check or save):
        return
    try:
        draft = alerts_view.check_draft(text, more.file_rules(), stored)
        alerts_view.check_sites(draft, user.role, user.sites)
    except RuleError as error:
        st.error(str(error))
        return
    ids = ", ".join(r.id for r in draft.rules)
    if save:
        more.save_rules(user, list(draft.bodies))
        st.success(f"Saved {ids}: the server applies it on its next rule reload.")
        return
    st.success(f"Valid: {ids}.")
    now = data.floored_now(more.cfg)
    with st.spinner("Replaying the last 7 days…"):
        found = more.preview(text, now - timedelta(days=PREVIEW_DAYS), now)
    st.metric(f"Would have fired in the last {PREVIEW_DAYS} days", len(found))
    if found:
        rows = alerts_view.preview_table(found)
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="alerts_preview")


def page() -> None:
    cfg = data.config()
    user = data.signed_in_user()
    more = PagesData(cfg, scope_of(user))
    st.title("Alerts")
    site_ids = [s.site for s in data.Data(cfg, more.scope).sites()]
    _alert_list(more, user, site_ids)
    if user.role != "viewer":
        _rule_editor(more, user, site_ids)


if __name__ == "__main__":
    page()
