"""The sidebar's global filters (time range, service, workflow), kept in the URL query string."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard.client import Filters

RANGES: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "365d": timedelta(days=365),
}
ALL = ""


def since_for(range_key: str, now: datetime | None = None) -> str:
    """ISO-8601 UTC start of a named range (the collector keeps at most 400 days per query)."""
    delta = RANGES.get(range_key) or RANGES["24h"]
    return ((now or datetime.now(UTC)) - delta).isoformat(timespec="seconds")


def sidebar_filters(workflows: list[str]) -> Filters:
    """Render the global filters; their values live in the URL (``range``, ``service``, ``wf``)."""
    with st.sidebar:
        st.subheader("Filters")
        range_key = st.selectbox(
            "Time range",
            list(RANGES),
            index=list(RANGES).index("24h"),
            help="Last 15 minutes … last 365 days",
            key="range",
            bind="query-params",
        )
        service = st.text_input(
            "Service", key="service", bind="query-params", placeholder="all services"
        )
        workflow = st.selectbox(
            "Workflow",
            [ALL, *workflows],
            format_func=lambda w: w or "All workflows",
            key="wf",
            bind="query-params",
        )
    return Filters(
        since=since_for(range_key or "24h"),
        service=service.strip() or None,
        workflow=workflow or None,
    )
