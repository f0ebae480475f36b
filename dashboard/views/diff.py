"""Runs diff: two runs of one workflow, node by node — inputs/outputs with highlights, deltas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.client import Filters
from dashboard.diffing import diff_html
from dashboard.replies import Trace, TraceSummary
from dashboard.ui import PageContext, empty_store_help, fmt_time, fmt_usd, url_select
from dashboard.waterfall import Row, tree_rows


@dataclass(frozen=True)
class NodeRun:
    """A node's execution in one run (iteration/loop rounds are told apart by their index)."""

    key: str
    title: str
    node_type: str
    row: Row

    @property
    def ms(self) -> float:
        return self.row.span.duration_ns / 1e6

    @property
    def tokens(self) -> int:
        return self.row.input_tokens + self.row.output_tokens


def node_runs(trace: Trace) -> dict[str, NodeRun]:
    """Node spans of a trace keyed by node id (plus ``[i]`` inside iteration/loop rounds)."""
    runs: dict[str, NodeRun] = {}
    for row in tree_rows(trace.spans):
        span = row.span
        if span.kind != "node":
            continue
        key = span.attr("flowscope.node.id") or span.name
        for name in ("flowscope.iteration.index", "flowscope.loop.index"):
            if span.attr(name):
                key += f"[{span.attr(name)}]"
        while key in runs:  # a retried or re-entered node: keep every execution
            key += "'"
        runs[key] = NodeRun(
            key, span.attr("flowscope.node.title"), span.attr("flowscope.node.type"), row
        )
    return runs


def delta_frame(a: dict[str, NodeRun], b: dict[str, NodeRun]) -> pd.DataFrame:
    """One row per node in either run: latency, tokens and cost of A and B and B - A."""
    keys = list(a) + [k for k in b if k not in a]
    records = []
    for key in keys:
        ra, rb = a.get(key), b.get(key)
        ref = ra or rb
        assert ref is not None
        records.append(
            {
                "node": key,
                "title": ref.title,
                "type": ref.node_type,
                "status_a": ra.row.span.status_code if ra else "—",
                "status_b": rb.row.span.status_code if rb else "—",
                "ms_a": ra.ms if ra else None,
                "ms_b": rb.ms if rb else None,
                "ms_delta": (rb.ms - ra.ms) if ra and rb else None,
                "tokens_a": ra.tokens if ra else None,
                "tokens_b": rb.tokens if rb else None,
                "tokens_delta": (rb.tokens - ra.tokens) if ra and rb else None,
                "cost_a": ra.row.cost_usd if ra else None,
                "cost_b": rb.row.cost_usd if rb else None,
                "cost_delta": (rb.row.cost_usd - ra.row.cost_usd) if ra and rb else None,
            }
        )
    return pd.DataFrame(records)


def _run_label(t: TraceSummary) -> str:
    ms = t.duration_ns / 1e6
    return (
        f"{fmt_time(t.start_time_unix_nano)} · {t.status_code} · {ms:,.0f} ms · {t.trace_id[:12]}"
    )


def _changed(a: NodeRun | None, b: NodeRun | None, name: str) -> bool:
    va = a.row.span.attributes.get(name) if a else None
    vb = b.row.span.attributes.get(name) if b else None
    return va != vb


def show_io(label: str, va: Any, vb: Any) -> None:
    """A value of runs A and B side by side, changes highlighted (nothing if both absent)."""
    if va is None and vb is None:
        return
    left, right = diff_html(va, vb)
    st.markdown(f"**{label}**" + ("" if va != vb else " — identical"))
    c1, c2 = st.columns(2)
    c1.markdown(left, unsafe_allow_html=True)
    c2.markdown(right, unsafe_allow_html=True)


def _io_diff(a: NodeRun | None, b: NodeRun | None) -> None:
    for name, label in (("flowscope.node.inputs", "Inputs"), ("flowscope.node.outputs", "Outputs")):
        va = a.row.span.attributes.get(name) if a else None
        vb = b.row.span.attributes.get(name) if b else None
        show_io(label, va, vb)


def render(ctx: PageContext) -> None:
    st.title("Runs diff")
    st.caption("Two runs of the same workflow, node by node: what changed and what it cost.")
    workflows = sorted({n.workflow for n in ctx.client.node_stats()})
    if not workflows:
        empty_store_help(ctx, "workflow runs")
        return
    workflow = st.selectbox("Workflow", workflows, key="dwf", bind="query-params")
    traces = ctx.client.traces(Filters(workflow=workflow), limit=100)
    if len(traces) < 2:
        st.info(f"Workflow {workflow!r} has {len(traces)} run(s) stored; a diff needs two.")
        return
    labels = {t.trace_id: _run_label(t) for t in traces}
    ids = list(labels)
    c1, c2 = st.columns(2)
    a_id = url_select("Run A (base)", labels, "a", default=ids[1], container=c1)
    other = next(i for i in ids if i != a_id)  # the newest run that is not A
    b_id = url_select("Run B (compare)", labels, "b", default=other, container=c2)
    if a_id == b_id:
        st.warning("Pick two different runs.")
        return
    trace_a, trace_b = ctx.client.trace(a_id), ctx.client.trace(b_id)
    if trace_a is None or trace_b is None:
        st.warning("One of the two runs is no longer in the store; pick another.")
        return
    a, b = node_runs(trace_a), node_runs(trace_b)
    frame = delta_frame(a, b)
    totals = st.columns(3)
    totals[0].metric("Latency B − A", f"{frame['ms_delta'].sum():+,.1f} ms", border=True)
    totals[1].metric("Tokens B − A", f"{int(frame['tokens_delta'].sum()):+,}", border=True)
    cost = float(frame["cost_delta"].sum())
    totals[2].metric("Cost B − A", f"{'-' if cost < 0 else '+'}{fmt_usd(abs(cost))}", border=True)
    st.dataframe(
        frame,
        hide_index=True,
        key="diff-table",
        column_config={
            "node": "Node id",
            "title": "Title",
            "type": "Type",
            "status_a": "Status A",
            "status_b": "Status B",
            "tokens_a": st.column_config.NumberColumn("tokens A"),
            "tokens_b": st.column_config.NumberColumn("tokens B"),
            "ms_a": st.column_config.NumberColumn("ms A", format="%.1f"),
            "ms_b": st.column_config.NumberColumn("ms B", format="%.1f"),
            "ms_delta": st.column_config.NumberColumn("Δ ms", format="%+.1f"),
            "tokens_delta": st.column_config.NumberColumn("Δ tokens", format="%+d"),
            "cost_a": st.column_config.NumberColumn("cost A", format="$%.6f"),
            "cost_b": st.column_config.NumberColumn("cost B", format="$%.6f"),
            "cost_delta": st.column_config.NumberColumn("Δ cost", format="$%+.6f"),
        },
    )
    st.subheader("Inputs and outputs, node by node")
    for key in frame["node"]:
        ra, rb = a.get(key), b.get(key)
        ref = ra or rb
        assert ref is not None
        changed = any(
            _changed(ra, rb, n) for n in ("flowscope.node.inputs", "flowscope.node.outputs")
        )
        mark = "changed" if changed else "unchanged"
        if ra is None or rb is None:
            mark = "only in A" if rb is None else "only in B"
        icon = ":material/change_circle:" if changed else ":material/check_circle:"
        with st.expander(
            f"{ref.title or key} ({ref.node_type}) — {mark}", expanded=changed, icon=icon
        ):
            _io_diff(ra, rb)
