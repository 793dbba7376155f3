"""Sign-in page."""

from __future__ import annotations

import streamlit as st

from noisefleet_dashboard import data


def page() -> None:
    cfg = data.config()
    st.title("noisefleet — sign in")
    notice = st.session_state.get(data.NOTICE_KEY)
    if notice:
        st.info(notice)
    with st.form("signin", clear_on_submit=False):
        username = st.text_input("Username", key="signin_username")
        password = st.text_input("Password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        refusal = data.sign_in(cfg, username, password)
        if refusal is None:
            st.rerun()
        st.error(refusal)
    st.caption("No account yet? An administrator creates one: `noisefleet-dashboard users add`.")


if __name__ == "__main__":
    page()
