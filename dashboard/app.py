"""The Streamlit entry point: settings, optional login, global filters, multipage navigation.

Run with ``flowscope dashboard`` (or ``streamlit run dashboard/app.py``). Settings are built here,
on each script run, from the environment; see docs/dashboard.md.
"""

from __future__ import annotations

import logging

import streamlit as st

from dashboard.auth import login_gate
from dashboard.client import CollectorClient
from dashboard.errors import DashboardError
from dashboard.filters import sidebar_filters
from dashboard.settings import Settings, load_settings
from dashboard.ui import CONTEXT_KEY, PageContext

logger = logging.getLogger("dashboard")

# url path (= screens/<name>.py), title, icon
PAGES = (
    ("overview", "Overview", ":material/space_dashboard:"),
    ("nodes", "Nodes", ":material/account_tree:"),
    ("models", "Models", ":material/memory:"),
    ("traces", "Traces", ":material/timeline:"),
    ("logs", "Logs", ":material/notes:"),
    ("diff", "Runs diff", ":material/difference:"),
    ("prompts", "Prompt versions", ":material/history_edu:"),
    ("history", "Run history", ":material/manage_history:"),
)


def _settings() -> Settings:
    """Built on every script run: cheap, and a changed environment is picked up."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
    return load_settings()


@st.cache_resource
def _client(url: str, token: str | None, timeout_s: float) -> CollectorClient:
    return CollectorClient(url, token=token, timeout_s=timeout_s)


def _workflows(client: CollectorClient) -> list[str]:
    try:
        return sorted({row.workflow for row in client.node_stats()})
    except DashboardError as exc:
        logger.warning("cannot list workflows: %s", exc)
        return []


def main() -> None:
    st.set_page_config(page_title="flowscope", page_icon=":material/insights:", layout="wide")
    try:
        settings = _settings()
    except DashboardError as exc:
        st.error(f"flowscope dashboard is misconfigured: {exc}")
        return
    if not login_gate(settings):
        return
    client = _client(settings.collector_url, settings.read_token, settings.timeout_s)
    ctx = PageContext(settings=settings, client=client)
    for i, (path, title, icon) in enumerate(PAGES):
        ctx.pages[path] = st.Page(
            f"screens/{path}.py", title=title, icon=icon, url_path=path, default=i == 0
        )
    page = st.navigation(list(ctx.pages.values()))
    ctx.filters = sidebar_filters(_workflows(client))
    st.sidebar.caption(f"flowscope · collector `{settings.collector_url}`")
    st.session_state[CONTEXT_KEY] = ctx
    page.run()


main()
