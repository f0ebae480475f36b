"""Overview: the headline figures, cost over time, the most expensive and the slowest nodes."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.client import Filters
from dashboard.replies import NodeStat, Overview
from dashboard.ui import PageContext, empty_store_help, fmt_int, fmt_ms, fmt_usd, tile_columns

GROUPS = {"workflow": "Workflow", "model": "Model"}


def bucket_for(since: str | None) -> str:
    """Minute buckets up to a day, hours up to 30 days, then days (at most ~1,440 buckets)."""
    if since is None:
        return "hour"
    span = datetime.now(UTC) - datetime.fromisoformat(since)
    hours = span.total_seconds() / 3600
    return "minute" if hours <= 25 else "hour" if hours <= 24 * 31 else "day"


def _headline(o: Overview) -> None:
    kept = o.sampled_runs / o.runs if o.runs else 1.0
    tiles = (
        ("Total cost", fmt_usd(o.total_cost_usd)),
        ("Tokens", fmt_int(o.total_tokens)),
        ("Runs", fmt_int(o.runs)),
        ("p50", fmt_ms(o.p50_ms)),
        ("p95", fmt_ms(o.p95_ms)),
        ("p99", fmt_ms(o.p99_ms)),
        ("Error rate", f"{o.error_rate:.1%}"),
        ("Runs kept by sampling", f"{kept:.0%}"),
    )
    for cell, (label, value) in zip(tile_columns(len(tiles)), tiles, strict=True):
        cell.metric(label, value, border=True)


def sampling_frame(o: Overview) -> pd.DataFrame:
    """Sampled (what the kept spans hold), estimated (weighted by 1/rate) and true totals."""
    return pd.DataFrame(
        {
            "figure": ["Cost USD", "Input tokens", "Output tokens"],
            "sampled": [o.sampled_cost_usd, o.sampled_input_tokens, o.sampled_output_tokens],
            "estimated": [
                o.estimated_cost_usd,
                o.estimated_input_tokens,
                o.estimated_output_tokens,
            ],
            "true": [o.true_cost_usd, o.true_input_tokens, o.true_output_tokens],
        }
    )


def _sampling(o: Overview) -> None:
    st.subheader("Sampled vs. true totals")
    kept = o.sampled_runs / o.runs if o.runs else 1.0
    st.caption(
        f"{fmt_int(o.sampled_runs)} of an estimated {fmt_int(o.runs)} runs kept ({kept:.0%}). "
        "Sampled = what the stored spans hold; estimated = weighted by 1 / sampling.rate; "
        "true = the probe's unsampled usage counters (blank when no metrics arrived)."
    )
    st.dataframe(
        sampling_frame(o),
        hide_index=True,
        key="sampling-table",
        column_config={
            "figure": "",
            "sampled": st.column_config.NumberColumn("Sampled", format="%.6g"),
            "estimated": st.column_config.NumberColumn("Estimated", format="%.6g"),
            "true": st.column_config.NumberColumn("True", format="%.6g"),
        },
    )


def _cost_over_time(ctx: PageContext, filters: Filters) -> None:
    st.subheader("Cost over time")
    by = (
        st.segmented_control(
            "Stack by",
            list(GROUPS),
            default="workflow",
            format_func=GROUPS.__getitem__,
            key="by",
            bind="query-params",
        )
        or "workflow"
    )
    points = ctx.client.cost_over_time(filters, bucket=bucket_for(filters.since), group_by=by)
    if not points:
        st.caption("No LLM cost in this time range.")
        return
    frame = pd.DataFrame([p.model_dump() for p in points])
    frame["bucket_start"] = pd.to_datetime(frame["bucket_start"])
    fig = px.bar(
        frame,
        x="bucket_start",
        y="cost_usd",
        color="group",
        labels={"bucket_start": "", "cost_usd": "Cost (USD)", "group": GROUPS[by]},
        color_discrete_sequence=px.colors.qualitative.Bold,
    )
    fig.update_layout(
        barmode="stack",
        height=320,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        legend={"orientation": "h", "y": -0.2},
    )
    st.plotly_chart(fig, key="cost-over-time")


def _node_links(ctx: PageContext, title: str, ranked: list[NodeStat], by_cost: bool) -> None:
    st.subheader(title)
    for n in ranked[:5]:
        figure = fmt_usd(n.cost_usd) if by_cost else fmt_ms(n.p95_ms)
        ctx.link(
            "nodes",
            f"{figure} — {n.workflow} · {n.title or n.node_id} ({n.node_type})",
            icon=":material/chevron_right:",
            node=f"{n.workflow}/{n.node_id}",
        )


def _top_nodes(ctx: PageContext, nodes: list[NodeStat]) -> None:
    left, right = st.columns(2)
    with left:
        costly = sorted((n for n in nodes if n.cost_usd > 0), key=lambda n: -n.cost_usd)
        _node_links(ctx, "Most expensive nodes", costly, by_cost=True)
    with right:
        slow = sorted(nodes, key=lambda n: -(n.p95_ms or 0))
        _node_links(ctx, "Slowest nodes (p95)", slow, by_cost=False)


def render(ctx: PageContext) -> None:
    st.title("Overview")
    filters = ctx.filters
    o = ctx.client.overview(filters)
    if o.spans == 0:
        empty_store_help(ctx)
        return
    _headline(o)
    _cost_over_time(ctx, filters)
    _top_nodes(ctx, ctx.client.node_stats(filters))
    _sampling(o)
    st.subheader("Workflows")
    workflows = ctx.client.workflow_stats(filters)
    st.dataframe(
        pd.DataFrame(
            [
                w.model_dump(
                    include={
                        "workflow",
                        "runs",
                        "errors",
                        "error_rate",
                        "p50_ms",
                        "p95_ms",
                        "p99_ms",
                        "input_tokens",
                        "output_tokens",
                        "cost_usd",
                        "last_run",
                    }
                )
                for w in workflows
            ]
        ),
        hide_index=True,
        key="workflows-table",
        column_config={
            "workflow": "Workflow",
            "runs": "Runs",
            "errors": "Errors",
            "input_tokens": "Input tokens",
            "output_tokens": "Output tokens",
            "last_run": "Last run (UTC)",
            "error_rate": st.column_config.NumberColumn("Error rate", format="percent"),
            "cost_usd": st.column_config.NumberColumn("Cost USD", format="$%.6f"),
            "p50_ms": st.column_config.NumberColumn("p50 ms", format="%.1f"),
            "p95_ms": st.column_config.NumberColumn("p95 ms", format="%.1f"),
            "p99_ms": st.column_config.NumberColumn("p99 ms", format="%.1f"),
        },
    )
