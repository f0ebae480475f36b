"""Nodes: where every penny and millisecond goes, per workflow node."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.client import Filters
from dashboard.replies import NodeStat
from dashboard.ui import PageContext, empty_store_help, fmt_ms, fmt_usd, tile_columns

COLUMNS = {
    "workflow": "Workflow",
    "node_id": "Node id",
    "title": "Title",
    "node_type": "Type",
    "count": "Runs",
    "errors": "Errors",
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
    "p99_ms": "p99 ms",
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "cost_usd": "Cost USD",
    "cost_share": "Cost share",
}
SORTS = {
    "cost_usd": "Cost",
    "p95_ms": "p95 latency",
    "count": "Runs",
    "errors": "Errors",
    "input_tokens": "Input tokens",
}


def nodes_frame(rows: list[NodeStat]) -> pd.DataFrame:
    """The node table as a DataFrame, with each node's share of the total cost (0..1)."""
    frame = pd.DataFrame([r.model_dump(include=set(COLUMNS)) for r in rows])
    if "p99_ms" not in frame:
        frame["p99_ms"] = None
    total = float(frame["cost_usd"].sum())
    frame["cost_share"] = frame["cost_usd"] / total if total > 0 else 0.0
    return frame[list(COLUMNS)]


def _filter(frame: pd.DataFrame, types: list[str], search: str) -> pd.DataFrame:
    if types:
        frame = frame[frame["node_type"].isin(types)]
    if search:
        needle = search.lower()
        hay = frame["title"].str.lower() + " " + frame["node_id"].str.lower()
        frame = frame[hay.str.contains(needle, regex=False)]
    return frame


def _charts(frame: pd.DataFrame) -> None:
    top = frame.head(15).copy()
    top["label"] = top["workflow"] + " · " + top["title"]
    left, right = st.columns(2)
    cost = px.bar(
        top.sort_values("cost_usd"),
        x="cost_usd",
        y="label",
        orientation="h",
        labels={"cost_usd": "Cost (USD)", "label": ""},
        title="Cost by node",
        color_discrete_sequence=["#5b5bd6"],
    )
    latency = px.bar(
        top.sort_values("p95_ms"),
        x="p95_ms",
        y="label",
        orientation="h",
        labels={"p95_ms": "p95 latency (ms)", "label": ""},
        title="p95 latency by node",
        color_discrete_sequence=["#e5484d"],
    )
    for fig in (cost, latency):
        fig.update_layout(height=max(260, 28 * len(top) + 90), margin={"l": 0, "r": 10, "t": 40})
    left.plotly_chart(cost, key="nodes-cost")
    right.plotly_chart(latency, key="nodes-latency")


def _detail(ctx: PageContext, row: pd.Series, filters: Filters) -> None:
    st.subheader(f"{row['title']} · {row['node_type']}")
    cols = tile_columns(6)
    cols[0].metric("Runs", f"{int(row['count']):,}", border=True)
    cols[1].metric("Errors", f"{int(row['errors']):,}", border=True)
    cols[2].metric("p50", fmt_ms(row["p50_ms"]), border=True)
    cols[3].metric("p95", fmt_ms(row["p95_ms"]), border=True)
    cols[4].metric("Tokens", f"{int(row['input_tokens'] + row['output_tokens']):,}", border=True)
    cols[5].metric("Cost", fmt_usd(float(row["cost_usd"])), border=True)
    traces = ctx.client.traces(
        Filters(
            since=filters.since,
            service=filters.service,
            workflow=str(row["workflow"]),
            attr=f"flowscope.node.id={row['node_id']}",
        ),
        limit=10,
    )
    st.markdown("**Recent runs through this node** (open one to see the node in its trace)")
    for t in traces:
        ctx.link(
            "traces",
            f"{t.trace_id[:16]}… · {t.status_code} · {t.duration_ns / 1e6:,.0f} ms",
            icon=":material/timeline:",
            trace=t.trace_id,
            span_node=str(row["node_id"]),
        )


def render(ctx: PageContext) -> None:
    filters = ctx.filters
    st.title("Nodes")
    st.caption("Per node: runs, errors, latency percentiles, tokens and cost (LLM spans only).")
    rows = ctx.client.node_stats(filters)
    if not rows:
        empty_store_help(ctx, "node spans")
        return
    frame = nodes_frame(rows)
    c1, c2, c3 = st.columns([2, 2, 1])
    types = c1.multiselect(
        "Node types", sorted(frame["node_type"].unique()), key="types", bind="query-params"
    )
    search = c2.text_input("Search title or id", key="q", bind="query-params")
    sort = c3.selectbox(
        "Sort by", list(SORTS), format_func=SORTS.__getitem__, key="sort", bind="query-params"
    )
    shown = _filter(frame, types, search).sort_values(sort or "cost_usd", ascending=False)
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            **{k: st.column_config.Column(v) for k, v in COLUMNS.items()},
            "p50_ms": st.column_config.NumberColumn("p50 ms", format="%.1f"),
            "p95_ms": st.column_config.NumberColumn("p95 ms", format="%.1f"),
            "p99_ms": st.column_config.NumberColumn("p99 ms", format="%.1f"),
            "cost_usd": st.column_config.NumberColumn("Cost USD", format="$%.6f"),
            "cost_share": st.column_config.ProgressColumn(
                "Cost share", format="percent", min_value=0.0, max_value=1.0
            ),
        },
        key="nodes-table",
    )
    st.download_button(
        "Download CSV",
        shown.to_csv(index=False).encode(),
        file_name="flowscope-nodes.csv",
        mime="text/csv",
        icon=":material/download:",
    )
    _charts(shown)
    ids = [f"{w}/{n}" for w, n in zip(shown["workflow"], shown["node_id"], strict=True)]
    node = st.selectbox(
        "Node details",
        ["", *ids],
        format_func=lambda v: v or "Pick a node…",
        key="node",
        bind="query-params",
    )
    if node:
        _detail(ctx, shown.iloc[ids.index(node)], filters)
