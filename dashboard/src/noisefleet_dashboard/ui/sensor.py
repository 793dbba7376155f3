"""Sensor page: one sensor's status, health history from its heartbeats, its settings (edit
and push, with the agent's answer) and its model (push one). ``?site=S&sensor=ID`` opens it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from noisefleet_dashboard import data, formatting, sensor_view
from noisefleet_dashboard.access import User, may_see, may_write, scope_of
from noisefleet_dashboard.alert_queries import NotAllowedError
from noisefleet_dashboard.sensor_data import SensorData
from noisefleet_dashboard.sensor_queries import PushError, SensorDetail

OUTCOME_KEY = "sensor_push_outcome"


def _choose(store: SensorData, user: User) -> tuple[str, str]:
    wanted_site = st.query_params.get("site")
    wanted_sensor = st.query_params.get("sensor")
    if wanted_site is not None and not may_see(user, wanted_site):
        st.error(f"You may not see site {wanted_site!r}: ask an administrator to assign it to you.")
        st.stop()
    sensors = store.sensors()
    if not sensors:
        st.info("No sensors at your sites yet.")
        st.stop()
    wanted = next(
        (
            i
            for i, (site, sensor) in enumerate(sensors)
            if sensor == wanted_sensor and wanted_site in (None, site)
        ),
        0,
    )
    site, sensor = st.selectbox(
        "Sensor",
        sensors,
        index=wanted,
        format_func=lambda s: f"{s[0]} / {s[1]}",
        key="sensor_choice",
    )
    return site, sensor


def _status(store: SensorData, detail: SensorDetail) -> None:
    cfg = store.cfg
    now = data.now()
    state = sensor_view.status_text(
        detail.status, detail.last_seen, now, cfg.dashboard.offline_after_s
    )
    seen = formatting.age(now - detail.last_seen) + " ago" if detail.last_seen else "never"
    reason = f" ({detail.status_reason})" if detail.status_reason else ""
    pending = " · **pending**: not yet assigned to a site" if detail.pending else ""
    st.markdown(f"{state}{reason} · last seen {seen}{pending}")
    beat = store.latest_heartbeat(detail.site, detail.sensor)
    summary = sensor_view.health_summary(beat, now)
    columns = st.columns(min(len(summary), 5))
    for i, (label, value) in enumerate(summary.items()):
        columns[i % len(columns)].metric(label, value)
    problem = sensor_view.source_problem(beat)
    if problem:
        st.warning(problem)


def _history(store: SensorData, site: str, sensor: str) -> None:
    st.subheader("Health history")
    left, right = st.columns(2)
    name = left.selectbox("Range", list(sensor_view.RANGES), index=2, key="sensor_range")
    end = data.floored_now(store.cfg)
    span = sensor_view.RANGES[name]
    bucket = sensor_view.bucket_for(span, store.cfg.dashboard.max_points)
    points = store.health(site, sensor, end - span, end, bucket)
    right.caption(
        f"{len(points)} buckets of {formatting.bucket_label(bucket)} · "
        f"{sum(p.heartbeats for p in points)} heartbeats · times in UTC"
    )
    if not points:
        st.info("No heartbeats in this range.")
        return
    frame = pd.DataFrame(sensor_view.health_rows(points)).set_index("start")
    for title, columns in sensor_view.CHARTS.items():
        st.caption(title)
        st.line_chart(frame[list(columns)], height=180)


def _push(store: SensorData, user: User, detail: SensorDetail, action: str, value: str) -> None:
    """Push, keep the outcome's line for the next run and rerun, so that the settings and
    commands shown are read after the push."""
    try:
        if action == "settings":
            sent = store.push_settings(user, detail.site, detail.sensor, value)
            what = "Settings"
        else:
            with st.spinner(f"Sending model {value}…"):
                sent = store.push_model(user, detail.site, detail.sensor, value)
            what = f"Model {value}"
    except (NotAllowedError, PushError) as error:
        st.error(str(error))  # nothing was sent: shown at once, the input kept
        return
    st.session_state[OUTCOME_KEY] = sensor_view.push_outcome(
        what, sent.answer, store.cfg.dashboard.command_wait_s
    )
    st.rerun()


def _show_outcome() -> None:
    outcome = st.session_state.pop(OUTCOME_KEY, None)
    if outcome is None:
        return
    kind, text = outcome
    {"success": st.success, "error": st.error}.get(kind, st.info)(text)


def _settings(store: SensorData, user: User, detail: SensorDetail) -> None:
    st.subheader("Settings")
    rows = sensor_view.settings_rows(detail.desired_settings, detail.reported_settings)
    reported = (
        f"reported {formatting.age(data.now() - detail.reported_at)} ago"
        if detail.reported_at
        else "never reported"
    )
    st.caption(f"In force as the agent last reported ({reported}); desired: set from here.")
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="sensor_settings")
    else:
        st.info("The agent has not reported its settings yet.")
    if not may_write(user, detail.site):
        st.caption("Read only: viewers cannot change sensors.")
        return
    with st.form("sensor_settings_form"):
        text = st.text_area(
            "Changes (one key=value per line, e.g. gate_level_db=45)", key="sensor_changes"
        )
        if st.form_submit_button("Push settings", type="primary"):
            _push(store, user, detail, "settings", text)


def _model(store: SensorData, user: User, detail: SensorDetail) -> None:
    st.subheader("Model")
    st.markdown(
        f"In use: **{formatting.model_version(detail.model_name, detail.model_sha256)}** · "
        f"feature parameters {detail.feature_params_hash or '—'}"
    )
    if not may_write(user, detail.site):
        return
    try:
        folders = [p.name for p in store.model_folders()]
    except PushError as error:
        st.error(str(error))
        return
    if not folders:
        st.caption("No models to push: set `dashboard.models_dir` to a folder of model folders.")
        return
    left, right = st.columns([3, 1])
    chosen = left.selectbox("Model folder", folders, key="sensor_model")
    if right.button("Push model", key="sensor_push_model"):
        _push(store, user, detail, "model", chosen)


def _commands(store: SensorData, detail: SensorDetail) -> None:
    st.subheader("Commands and the agent's answers")
    _show_outcome()
    rows = store.commands(detail.site, detail.sensor)
    if st.button("Refresh", key="sensor_refresh"):
        st.rerun()
    if rows:
        table = pd.DataFrame(sensor_view.command_rows(rows))
        st.dataframe(table, hide_index=True, key="sensor_commands")
    else:
        st.caption("No commands sent yet.")


def page() -> None:
    cfg = data.config()
    user = data.signed_in_user()
    store = SensorData(cfg, scope_of(user))
    st.title("Sensor")
    site, sensor = _choose(store, user)
    detail = store.detail(site, sensor)
    if detail is None:
        st.error(f"Sensor {site}/{sensor} is not known.")
        st.stop()
    _status(store, detail)
    _history(store, site, sensor)
    _settings(store, user, detail)
    _model(store, user, detail)
    _commands(store, detail)


if __name__ == "__main__":
    page()
