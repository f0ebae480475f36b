"""Traces: search runs, then one trace as a waterfall with every span's details, its log records
and links."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.client import Filters
from dashboard.replies import LogRecord, Trace, TraceLogs, TraceSummary
from dashboard.ui import (
    PageContext,
    empty_store_help,
    fmt_clock,
    fmt_ms,
    fmt_time,
    fmt_usd,
    link_buttons,
    tile_columns,
    url_select,
)
from dashboard.waterfall import Row, is_empty_retrieval, tree_rows, waterfall_figure

HEX32 = re.compile(r"[0-9a-fA-F]{32}")
STATUSES = ("any", "ok", "error")
IO_ATTRIBUTES = ("flowscope.node.inputs", "flowscope.node.outputs")


def traces_frame(traces: list[TraceSummary]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "open": [f"./traces?trace={t.trace_id}" for t in traces],
            "trace_id": [t.trace_id for t in traces],
            "workflow": [t.workflow for t in traces],
            "started": [fmt_time(t.start_time_unix_nano) for t in traces],
            "duration_ms": [t.duration_ns / 1e6 for t in traces],
            "status": [t.status_code for t in traces],
            "cost_usd": [t.cost_usd for t in traces],
        }
    )


def _search(ctx: PageContext) -> None:
    c2, c3, c4 = st.columns([1, 1, 2])
    status = c2.selectbox(
        "Status",
        STATUSES,
        key="status",
        bind="query-params",
    )
    min_ms = c3.number_input(
        "Min duration (ms)", min_value=0, step=100, key="min_ms", bind="query-params"
    )
    attr = c4.text_input(
        "Attribute", key="attr", bind="query-params", placeholder="gen_ai.request.model=gpt-4o-mini"
    )
    f = ctx.filters
    filters = Filters(
        since=f.since,
        service=f.service,
        workflow=f.workflow,
        status=None if status in (None, "any") else status,
        min_duration_ms=float(min_ms) if min_ms else None,
        attr=attr.strip() or None,
    )
    traces = ctx.client.traces(filters, limit=200)
    if not traces:
        if filters == Filters(since=f.since, service=f.service, workflow=f.workflow):
            empty_store_help(ctx, "traces")
        else:
            st.info("No trace matches these filters.")
        return
    st.caption(f"{len(traces)} most recent traces — select a row to open it.")
    frame = traces_frame(traces)
    event = st.dataframe(
        frame,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="traces-table",
        column_config={
            "open": st.column_config.LinkColumn("Open", display_text="open"),
            "trace_id": "Trace id",
            "workflow": "Workflow",
            "started": "Started",
            "duration_ms": st.column_config.NumberColumn("Duration ms", format="%.1f"),
            "status": "Status",
            "cost_usd": st.column_config.NumberColumn("Cost USD", format="$%.6f"),
        },
    )
    rows = event.selection.rows if event is not None and hasattr(event, "selection") else []
    if rows:
        ctx.link(
            "traces",
            "Open the selected trace",
            icon=":material/timeline:",
            trace=str(frame["trace_id"].iloc[rows[0]]),
        )


def _pretty(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _string_list(value: object) -> list[str]:
    """A string-array attribute (the read API returns arrays as JSON text)."""
    if isinstance(value, str):
        value = _pretty(value) if value.startswith("[") else [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def logs_frame(records: list[LogRecord], span_names: dict[str, str]) -> pd.DataFrame:
    """One row per record; ``span`` is the span's name when the trace holds it, else its id."""
    return pd.DataFrame(
        {
            "time": [fmt_clock(r.time_unix_nano) for r in records],
            "severity": [r.severity for r in records],
            "service": [r.service_name for r in records],
            "span": [span_names.get(r.span_id.lower(), r.span_id) or "—" for r in records],
            "message": [r.body for r in records],
        },
        columns=["time", "severity", "service", "span", "message"],
    )


LOGS_COLUMNS = {
    "time": st.column_config.TextColumn("Time (UTC)", width="small"),
    "severity": st.column_config.TextColumn("Severity", width="small"),
    "service": st.column_config.TextColumn("Service", width="small"),
    "span": st.column_config.TextColumn("Span"),
    "message": st.column_config.TextColumn("Message", width="large"),
}


def _span_logs(span_id: str, logs: TraceLogs | None) -> None:
    """The selected span's records (its id on the record), under its details."""
    if logs is None:
        return  # the trace's Logs section says the collector has no log store
    own = [r for r in logs.logs if r.span_id.lower() == span_id.lower()]
    st.markdown("**Logs**")
    if not own:
        if not logs.logs:
            st.caption("No log records for this span.")
        elif logs.truncated:
            st.caption(f"None for this span among the trace's first {len(logs.logs):,} (below).")
        else:
            st.caption(f"None for this span; the trace's {len(logs.logs):,} are listed below.")
        return
    st.dataframe(
        logs_frame(own, {}).drop(columns="span"),
        hide_index=True,
        key="span-logs",
        column_config=LOGS_COLUMNS,
    )


def _span_details(ctx: PageContext, trace: Trace, row: Row, logs: TraceLogs | None) -> None:
    span = row.span
    service = span.service_name or ""
    st.subheader(span.name)
    cols = tile_columns(5)
    cols[0].metric("Kind", span.kind or "-", border=True)
    cols[1].metric("Duration", fmt_ms(span.duration_ns / 1e6), border=True)
    cols[2].metric("Status", span.status_code, border=True)
    cols[3].metric("Tokens in / out", f"{row.input_tokens:,} / {row.output_tokens:,}", border=True)
    cols[4].metric("Cost", fmt_usd(row.cost_usd), border=True)
    message = span.status_message or span.attr("flowscope.error.message")
    if message:
        st.error(message, icon=":material/error:")
    if is_empty_retrieval(span):
        st.warning(
            f"This retrieval returned **no chunks** in {fmt_ms(span.duration_ns / 1e6)} "
            f"(query: {span.attr('flowscope.retrieval.query') or 'not recorded'!r}). A silent "
            "empty result usually means the vector store failed underneath (a shard timing out); "
            "open the infrastructure links below for this span's logs and backend trace.",
            icon=":material/search_off:",
        )
    if shard_errors := _string_list(span.attributes.get("flowscope.retrieval.shard_errors")):
        lost = ", ".join(_string_list(span.attributes.get("flowscope.retrieval.shards_lost")))
        st.warning(
            "Shard failures underneath this retrieval"
            + (f" (lost: {lost})" if lost else " (recovered by retry / fallback)")
            + ":\n"
            + "\n".join(f"- {e}" for e in shard_errors),
            icon=":material/dns:",
        )
    link_buttons(
        ctx,
        trace_id=trace.trace_id,
        span_id=span.span_id,
        start_ns=span.start_time_unix_nano,
        end_ns=span.start_time_unix_nano + span.duration_ns,
        service=service,
        key=f"span-{span.span_id}",
    )
    inputs, outputs = (span.attributes.get(name) for name in IO_ATTRIBUTES)
    if inputs is not None or outputs is not None:
        left, right = st.columns(2)
        left.markdown("**Inputs** (redacted)")
        left.json(_pretty(str(inputs)) if inputs is not None else {}, expanded=2)
        right.markdown("**Outputs** (redacted)")
        right.json(_pretty(str(outputs)) if outputs is not None else {}, expanded=2)
    attrs = {k: str(v) for k, v in sorted(span.attributes.items()) if k not in IO_ATTRIBUTES}
    st.markdown("**Attributes**")
    st.dataframe(
        pd.DataFrame({"attribute": list(attrs), "value": list(attrs.values())}),
        hide_index=True,
        key="span-attributes",
    )
    if span.events:
        st.markdown("**Events**")
        for event in span.events:
            when = f"{fmt_time(event.time_unix_nano)} · " if event.time_unix_nano else ""
            with st.expander(f"{when}{event.name}"):
                st.json(event.attributes)
    _span_logs(span.span_id, logs)


def _trace_logs(ctx: PageContext, trace: Trace, logs: TraceLogs | None) -> None:
    """Every record of the trace, oldest first, or why there are none."""
    st.subheader("Logs", divider="gray")
    if logs is None:
        st.info(
            f"The collector at `{ctx.settings.collector_url}` keeps no log records: it answered "
            f"404 to `GET /api/traces/{trace.trace_id}/logs`. Upgrade it to a version with the "
            "OTLP log store (`POST /v1/logs`).",
            icon=":material/info:",
        )
        return
    if not logs.logs:
        st.info(
            "No log records for this trace — set `OTEL_LOGS_EXPORTER=otlp` on the instrumented "
            "process: the probe then sends its Python `logging` records, with their trace and "
            f"span ids, to `{ctx.settings.collector_url}/v1/logs` (the "
            "`OTEL_EXPORTER_OTLP_ENDPOINT` it exports spans to).",
            icon=":material/notes:",
        )
        return
    records = logs.logs
    levels = [r.level for r in records]
    errors = sum(level in ("ERROR", "FATAL") for level in levels)
    warnings = levels.count("WARN")
    st.caption(
        f"{len(records):,} record(s), oldest first · {errors:,} error(s) · {warnings:,} "
        "warning(s) · pick a span above for its own records."
    )
    if logs.truncated:
        elsewhere = (
            "open the rest in your log system with the Logs button above"
            if ctx.settings.logs_url_template
            else "set FLOWSCOPE_LOGS_URL_TEMPLATE to link this trace to your log system"
        )
        st.warning(
            f"Truncated: these are the first {len(records):,} log records of this trace; the "
            f"collector holds more — {elsewhere}.",
            icon=":material/vertical_align_bottom:",
        )
    names = {s.span_id.lower(): s.name for s in trace.spans}
    st.dataframe(
        logs_frame(records, names),
        hide_index=True,
        key="trace-logs",
        column_config=LOGS_COLUMNS,
    )


def _default_span(rows: list[Row], node_id: str | None) -> int:
    if node_id:
        for i, row in enumerate(rows):
            if row.span.kind == "node" and row.span.attr("flowscope.node.id") == node_id:
                return i
    return 0


def _pick_span(rows: list[Row]) -> str:
    """The selected span lives in the URL as ``span=<span id>`` (clean deep links)."""
    labels = {r.span.span_id: f"{'· ' * r.depth}{r.span.name}" for r in rows}
    default = rows[_default_span(rows, st.query_params.get("span_node"))].span.span_id
    return url_select("Span", labels, "span", default=default)


def _clicked_bar(rows: list[Row]) -> Callable[[], None]:
    def select() -> None:
        points = st.session_state["waterfall"].selection.points
        if points:
            st.query_params["span"] = rows[int(points[0]["y"])].span.span_id

    return select


def _trace_tiles(trace: Trace, rows: list[Row], duration_ns: int) -> None:
    cols = tile_columns(5)
    cols[0].metric("Duration", fmt_ms(duration_ns / 1e6), border=True)
    cols[1].metric("Spans", f"{len(trace.spans):,}", border=True)
    empty = sum(is_empty_retrieval(s) for s in trace.spans)
    cols[2].metric(
        "Errors",
        f"{sum(s.is_error for s in trace.spans):,}",
        border=True,
        delta=f"{empty} empty retrieval(s)" if empty else None,
        delta_color="inverse",
        delta_arrow="off",
    )
    total_in = sum(r.input_tokens for r in rows if r.depth == 0)
    total_out = sum(r.output_tokens for r in rows if r.depth == 0)
    cols[3].metric("Tokens in / out", f"{total_in:,} / {total_out:,}", border=True)
    cols[4].metric("Cost", fmt_usd(sum(r.cost_usd for r in rows if r.depth == 0)), border=True)


def _trace_view(ctx: PageContext, trace_id: str) -> None:
    trace = ctx.client.trace(trace_id) if HEX32.fullmatch(trace_id) else None
    if trace is None or not trace.spans:
        if not HEX32.fullmatch(trace_id):
            st.error(f"{trace_id!r} is not a trace id: expected 32 hexadecimal digits.")
        else:
            st.warning(f"Trace {trace_id} is not in the store (yet).")
        ctx.link("traces", "Back to the trace list", icon=":material/arrow_back:")
        return
    rows = tree_rows(trace.spans)
    root = rows[0].span
    workflow = root.attr("flowscope.workflow.name") or root.name
    start = min(s.start_time_unix_nano for s in trace.spans)
    end = max(s.start_time_unix_nano + s.duration_ns for s in trace.spans)
    st.header(workflow, divider="gray")
    st.caption(f"Trace `{trace.trace_id}` · started {fmt_time(start)}")
    _trace_tiles(trace, rows, end - start)
    link_buttons(
        ctx,
        trace_id=trace.trace_id,
        start_ns=start,
        end_ns=end,
        service=root.service_name or "",
        key="trace",
    )
    with st.container(horizontal=True):
        ctx.link("traces", "All traces", icon=":material/arrow_back:")
        ctx.link(
            "diff",
            "Compare with another run",
            icon=":material/difference:",
            dwf=workflow,
            a=trace.trace_id,
        )
    span_id = _pick_span(rows)
    st.plotly_chart(
        waterfall_figure(rows, span_id),
        key="waterfall",
        on_select=_clicked_bar(rows),
        selection_mode="points",
    )
    selected = next((r for r in rows if r.span.span_id == span_id), rows[0])
    logs = ctx.client.trace_logs(trace.trace_id)
    _span_details(ctx, trace, selected, logs)
    _trace_logs(ctx, trace, logs)


def render(ctx: PageContext) -> None:
    st.title("Traces")
    trace_id = st.text_input(
        "Trace id", key="trace", bind="query-params", placeholder="paste a trace id to open it"
    ).strip()
    if trace_id:
        _trace_view(ctx, trace_id)
    else:
        _search(ctx)
