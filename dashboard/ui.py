"""What every page shares: the page context, number formats, the empty-store help, error display."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard.client import CollectorClient, Filters
from dashboard.errors import DashboardError
from dashboard.links import infrastructure_links
from dashboard.settings import Settings


@dataclass
class PageContext:
    """Built once per script run by app.py and handed to every page's ``render``."""

    settings: Settings
    client: CollectorClient
    filters: Filters = field(default_factory=Filters)
    pages: dict[str, Any] = field(default_factory=dict)

    def link(self, page: str, label: str, *, icon: str | None = None, **query: str) -> None:
        """A same-tab link to another page, carrying view state in the query string."""
        st.page_link(self.pages[page], label=label, icon=icon, query_params=query or None)


CONTEXT_KEY = "_flowscope_context"


def run_page(render: Callable[[PageContext], None]) -> None:
    """Body of every page script: render with the session's context, show collector errors."""
    ctx: PageContext | None = st.session_state.get(CONTEXT_KEY)
    if ctx is None:  # the page script was run on its own, not through app.py
        st.error("Open the dashboard through its main script: `flowscope dashboard`.")
        return
    try:
        render(ctx)
    except DashboardError as exc:
        st.error(str(exc), icon=":material/cloud_off:")


def url_select(
    label: str,
    options: dict[str, str],
    param: str,
    *,
    default: str | None = None,
    container: Any = st,
) -> str:
    """A selectbox whose value (not its label) is kept in the URL as ``param=value``.

    ``bind="query-params"`` would put the formatted label in the URL; ids (trace, span) need the
    value itself so a pasted link opens exactly that object.
    """
    values = list(options)
    wanted = str(st.query_params.get(param, ""))
    if wanted not in options:
        wanted = default if default in options else values[0]
    st.query_params[param] = wanted
    key = f"_url_{param}"
    st.session_state[key] = wanted

    def sync() -> None:
        st.query_params[param] = st.session_state[key]

    return str(
        container.selectbox(label, values, format_func=options.__getitem__, key=key, on_change=sync)
    )


def empty_store_help(ctx: PageContext, what: str = "spans") -> None:
    """Shown by every page when the store holds nothing to show yet."""
    url = ctx.settings.collector_url
    st.info(
        f"""**No {what} yet.** The collector at `{url}` has not stored any. To get data in:

1. Start the collector (embedded ClickHouse): `flowscope collector --port 4318`
2. Run a workflow under the probe, exporting to it:

   ```bash
   export OTEL_EXPORTER_OTLP_ENDPOINT={url}
   auto-instrument flowscope run ../shared/dify-dsl/SEO_Slug_Generator.yml --input title=Hello
   ```
3. Or run `make demo`, which does both with a few corpus workflows.

Any OpenTelemetry SDK exporting OTLP/HTTP to `{url}/v1/traces` works too.""",
        icon=":material/inbox:",
    )


TILES_PER_ROW = 3


def tile_columns(count: int, per_row: int = TILES_PER_ROW) -> list[Any]:
    """Containers for ``count`` metric tiles, at most ``per_row`` a row: a tile in a wider row
    cuts its value ("$0.…") on an ordinary window."""
    cells: list[Any] = []
    for start in range(0, count, per_row):
        cells += st.columns(per_row)[: min(per_row, count - start)]
    return cells


def fmt_usd(value: float) -> str:
    """Readable money: cents from $1 up, whole dollars from $1,000, three significant digits
    below $1 (LLM calls cost fractions of a cent): ``$0.026``, ``$0.00123``, ``$12.50``."""
    size = abs(value)
    sign = "-" if value < 0 else ""
    if size == 0:
        return "$0"
    if size >= 1000:
        return f"{sign}${size:,.0f}"
    if size >= 1:
        return f"{sign}${size:,.2f}"
    digits = 2 - math.floor(math.log10(size))
    return f"{sign}${size:.{digits}f}".rstrip("0").rstrip(".")


def fmt_ms(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    if value >= 100:
        return f"{value:,.0f} ms"
    return f"{value:,.1f} ms"


def fmt_time(unix_nano: int) -> str:
    return datetime.fromtimestamp(unix_nano / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_clock(unix_nano: int) -> str:
    """Time of day to the millisecond (log records of one trace are milliseconds apart)."""
    return datetime.fromtimestamp(unix_nano / 1e9, UTC).strftime("%H:%M:%S.%f")[:-3]


def fmt_stamp(unix_nano: int) -> str:
    """Date and time to the millisecond, truncated (log records across traces and days)."""
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%d %H:%M:%S}.{nanos // 1_000_000:03d}"


def fmt_int(value: float) -> str:
    return f"{int(value):,}"


def link_buttons(
    ctx: PageContext,
    *,
    trace_id: str,
    span_id: str = "",
    start_ns: int,
    end_ns: int,
    service: str = "",
    key: str,
) -> None:
    """Jaeger / logs / APM buttons for one trace or span, or a hint how to configure them."""
    links = infrastructure_links(
        ctx.settings,
        trace_id=trace_id,
        span_id=span_id,
        start_ns=start_ns,
        end_ns=end_ns,
        service=service,
    )
    if not links:
        st.caption(
            "Infrastructure links: set FLOWSCOPE_JAEGER_URL, FLOWSCOPE_LOGS_URL_TEMPLATE or "
            "FLOWSCOPE_APM_URL_TEMPLATE to link this trace to Jaeger, your logs and your APM."
        )
        return
    with st.container(horizontal=True):
        for link in links:
            st.link_button(
                f"Open in {link.label}",
                link.url,
                icon=":material/open_in_new:",
                key=f"{key}-{link.label}",
            )
