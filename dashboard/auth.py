"""Optional login: a shared secret (``FLOWSCOPE_DASHBOARD_PASSWORD``) or Streamlit's OIDC.

OIDC is on when ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's own
configuration: ``redirect_uri``, ``cookie_secret``, ``client_id``, ``client_secret``,
``server_metadata_url``). The dashboard is read-only either way.
"""

from __future__ import annotations

import hmac
import logging

import streamlit as st

from dashboard.settings import Settings

logger = logging.getLogger(__name__)
SESSION_KEY = "flowscope_signed_in"


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all: Streamlit raises its own not-found error
        return False


def _password_form(password: str) -> bool:
    if st.session_state.get(SESSION_KEY):
        return True
    st.title("flowscope")
    with st.form("login"):
        given = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if hmac.compare_digest(given.encode(), password.encode()):
            st.session_state[SESSION_KEY] = True
            st.rerun()
        logger.warning("dashboard sign-in refused: wrong password")
        st.error("Wrong password.")
    return False


def login_gate(settings: Settings) -> bool:
    """True when the visitor may see the dashboard; otherwise renders a sign-in form."""
    if settings.password:
        return _password_form(settings.password)
    if _oidc_configured():
        if not st.user.is_logged_in:
            st.title("flowscope")
            st.button("Log in", on_click=st.login, type="primary")
            return False
        st.sidebar.button("Log out", on_click=st.logout)
    return True
