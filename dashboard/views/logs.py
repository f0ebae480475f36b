"""Logs: search the OTLP log records of every trace, newest first, and open a record's trace."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from dashboard.replies import LogRecord
from dashboard.ui import PageContext, fmt_stamp

HEX32 = re.compile(r"[0-9a-fA-F]{32}")
SEVERITIES = ("any", "trace", "debug", "info", "warn", "error", "fatal")
PAGE_SIZE = 100
MAX_PAGE = 10_000  # the read API's offset stops at 1,000,000
PAGE = "lpage"  # the page number's widget key and URL parameter

NO_LOG_SEARCH = """The collector at `{url}` cannot search log records: it answered 404 to
`GET /api/logs` (it predates the log search). Upgrade it; a trace's own records are still
listed in its trace view (Traces page) when the collector keeps them."""

NO_LOGS = """**No log records yet** in this time range. The collector at `{url}` stores the
OTLP log records sent to `{url}/v1/logs`; the probe sends its Python `logging` records, with
their trace and span ids, when `OTEL_LOGS_EXPORTER=otlp` is set:

```bash
export OTEL_EXPORTER_OTLP_ENDPOINT={url} OTEL_LOGS_EXPORTER=otlp
auto-instrument flowscope run ../shared/dify-dsl/SEO_Slug_Generator.yml --input title=Hello
```"""

COLUMNS = {
    "time": st.column_config.TextColumn("Time (UTC)", width="medium"),
    "severity": st.column_config.TextColumn("Severity", width="small"),
    "service": st.column_config.TextColumn("Service", width="small"),
    "trace": st.column_config.LinkColumn(
        "Trace", display_text=r"trace=([0-9a-fA-F]{32})", help="Open the record's trace"
    ),
    "span": st.column_config.TextColumn("Span"),
    "message": st.column_config.TextColumn("Message", width="large"),
}


def trace_link(record: LogRecord) -> str | None:
    """The trace view's deep link for the record's trace and span; None outside any trace."""
    if not record.trace_id:
        return None
    link = f"./traces?trace={record.trace_id}"
    return f"{link}&span={record.span_id}" if record.span_id else link


def logs_frame(records: list[LogRecord]) -> pd.DataFrame:
    """One row per record, in the order given; ``trace`` is the trace view's link (or None)."""
    return pd.DataFrame(
        {
            "time": [fmt_stamp(r.time_unix_nano) for r in records],
            "severity": [r.severity for r in records],
            "service": [r.service_name for r in records],
            "trace": [trace_link(r) for r in records],
            "span": [r.span_id or "—" for r in records],
            "message": [r.body for r in records],
        },
        columns=list(COLUMNS),
    )


def _go_to(page: int) -> None:
    st.session_state[PAGE] = page


def _search_box() -> tuple[str | None, str, str, int]:
    """Minimum severity, text, trace id and page number, all kept in the URL; a changed filter
    goes back to the first page."""
    c1, c2, c3, c4 = st.columns([1, 2, 2, 1])
    severity = c1.selectbox(
        "Minimum severity",
        SEVERITIES,
        key="lsev",
        bind="query-params",
        on_change=_go_to,
        args=(1,),
    )
    text = c2.text_input(
        "Message contains",
        key="lq",
        bind="query-params",
        max_chars=500,
        placeholder="timed out",
        on_change=_go_to,
        args=(1,),
    )
    trace_id = c3.text_input(
        "Trace id",
        key="ltrace",
        bind="query-params",
        placeholder="only this trace's records",
        on_change=_go_to,
        args=(1,),
    )
    page = c4.number_input(
        "Page", min_value=1, max_value=MAX_PAGE, step=1, key=PAGE, bind="query-params"
    )
    wanted = None if severity in (None, "any") else severity
    return wanted, text.strip(), trace_id.strip(), int(page)


def _nothing(ctx: PageContext, page: int, searching: bool) -> None:
    """Why the page is empty: past the last record, nothing matches, or no records at all."""
    if page > 1:
        st.info(
            f"No records on page {page}: these filters match {(page - 1) * PAGE_SIZE:,} or fewer.",
            icon=":material/last_page:",
        )
        st.button("First page", icon=":material/first_page:", on_click=_go_to, args=(1,))
    elif searching:
        st.info(
            "No log record matches these filters (minimum severity, message text, trace id) in "
            "the sidebar's time range and service.",
            icon=":material/search_off:",
        )
    else:
        st.info(NO_LOGS.format(url=ctx.settings.collector_url), icon=":material/inbox:")


def _pager(page: int, more: bool) -> None:
    with st.container(horizontal=True):
        if page > 1:
            st.button("Newer", icon=":material/chevron_left:", on_click=_go_to, args=(page - 1,))
        if more:
            st.button("Older", icon=":material/chevron_right:", on_click=_go_to, args=(page + 1,))


def _open_selected(ctx: PageContext, record: LogRecord) -> None:
    if not record.trace_id:
        st.caption("The selected record was made outside any trace.")
        return
    span = {"span": record.span_id} if record.span_id else {}
    ctx.link(
        "traces",
        "Open the selected record's trace",
        icon=":material/timeline:",
        trace=record.trace_id,
        **span,
    )


def render(ctx: PageContext) -> None:
    st.title("Logs")
    st.caption("OTLP log records of every trace, newest first; each row links to its trace.")
    severity, text, trace_id, page = _search_box()
    if trace_id and not HEX32.fullmatch(trace_id):
        st.error(f"{trace_id!r} is not a trace id: expected 32 hexadecimal digits.")
        return
    if ctx.filters.workflow:
        st.caption(
            f"The sidebar's workflow ({ctx.filters.workflow}) does not apply here: log records "
            "are searched by time range and service; narrow to one run with its trace id."
        )
    records = ctx.client.logs(
        ctx.filters,
        severity=severity,
        text=text or None,
        trace_id=trace_id.lower() or None,
        limit=PAGE_SIZE + 1,  # one more says whether there is an older page
        offset=(page - 1) * PAGE_SIZE,
    )
    if records is None:
        st.info(NO_LOG_SEARCH.format(url=ctx.settings.collector_url), icon=":material/info:")
        return
    if not records:
        _nothing(ctx, page, searching=bool(severity or text or trace_id))
        return
    more = len(records) > PAGE_SIZE
    records = records[:PAGE_SIZE]
    first = (page - 1) * PAGE_SIZE + 1
    st.caption(
        f"Records {first:,}–{first + len(records) - 1:,}, newest first"
        + (f" · older ones on page {page + 1}" if more else "")
        + " — select a row for a link to its trace."
    )
    event = st.dataframe(
        logs_frame(records),
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="logs-table",
        column_config=COLUMNS,
    )
    rows = event.selection.rows if event is not None and hasattr(event, "selection") else []
    if rows:
        _open_selected(ctx, records[rows[0]])
    _pager(page, more)
