"""A trace as a tree: spans in their real hierarchy, rolled-up cost/tokens, the waterfall figure."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from dashboard.replies import Span

KIND_COLORS = {
    "workflow": "#5b5bd6",
    "node": "#3e63dd",
    "llm": "#8e4ec6",
    "retrieval": "#12a594",
    "embedding": "#0d9488",
    "http": "#f76b15",
    "tool": "#d6409f",
    "code": "#6e56cf",
    "iteration": "#978365",
    "loop": "#978365",
    "branch": "#8d8d8d",
    "trigger": "#ffb224",
}
ERROR_COLOR = "#e5484d"
EMPTY_COLOR = "#e2a336"  # a retrieval that silently returned nothing
OTHER_COLOR = "#8b8d98"


@dataclass(frozen=True)
class Row:
    """One waterfall row: a span, its depth in the tree and its subtree's LLM usage."""

    span: Span
    depth: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def is_llm(span: Span) -> bool:
    return span.kind == "llm"


def is_empty_retrieval(span: Span) -> bool:
    """A retrieval span that recorded a result count of zero (the seed's silent failure)."""
    return span.kind == "retrieval" and span.attr("flowscope.retrieval.result_count") == "0"


def tree_rows(spans: list[Span]) -> list[Row]:
    """Depth-first, children by start time; roots are spans whose parent is not in the trace.

    Token and cost totals roll up from ``llm`` spans only (the contract: node spans do not
    repeat them), so a node row shows what its LLM calls cost and the root shows the whole run.
    """
    ids = {s.span_id for s in spans}
    children: dict[str, list[Span]] = {}
    roots: list[Span] = []
    for span in spans:
        if span.parent_span_id and span.parent_span_id in ids:
            children.setdefault(span.parent_span_id, []).append(span)
        else:
            roots.append(span)
    for group in (roots, *children.values()):
        group.sort(key=lambda s: (s.start_time_unix_nano, s.name))

    rows: list[Row] = []

    def visit(span: Span, depth: int) -> tuple[int, int, float]:
        index = len(rows)
        rows.append(Row(span, depth, 0, 0, 0.0))
        tin, tout, cost = (
            (
                span.int_attr("gen_ai.usage.input_tokens"),
                span.int_attr("gen_ai.usage.output_tokens"),
                span.cost,
            )
            if is_llm(span)
            else (0, 0, 0.0)
        )
        for child in children.get(span.span_id, []):
            cin, cout, ccost = visit(child, depth + 1)
            tin, tout, cost = tin + cin, tout + cout, cost + ccost
        rows[index] = Row(span, depth, tin, tout, cost)
        return tin, tout, cost

    for root in roots:
        visit(root, 0)
    return rows


def row_label(row: Row, width: int = 48) -> str:
    name = row.span.name if len(row.span.name) <= width else row.span.name[: width - 1] + "…"
    return "\u2003" * row.depth + name


def waterfall_figure(rows: list[Row], selected: str | None = None) -> go.Figure:
    """Horizontal bars from each span's start to its end, in ms from the trace's start."""
    t0 = min((r.span.start_time_unix_nano for r in rows), default=0)
    colors = [
        ERROR_COLOR
        if r.span.is_error
        else EMPTY_COLOR
        if is_empty_retrieval(r.span)
        else KIND_COLORS.get(r.span.kind, OTHER_COLOR)
        for r in rows
    ]
    fig = go.Figure(
        go.Bar(
            y=list(range(len(rows))),
            x=[max(r.span.duration_ns / 1e6, 0.01) for r in rows],
            base=[(r.span.start_time_unix_nano - t0) / 1e6 for r in rows],
            orientation="h",
            marker={
                "color": colors,
                "line": {
                    "color": [
                        "#11181c" if r.span.span_id == selected else "rgba(0,0,0,0)" for r in rows
                    ],
                    "width": 2,
                },
            },
            customdata=[
                [
                    r.span.kind or "-",
                    r.span.duration_ns / 1e6,
                    r.input_tokens + r.output_tokens,
                    r.cost_usd,
                    r.span.status_code,
                ]
                for r in rows
            ],
            hovertemplate=(
                "%{customdata[0]} · %{customdata[1]:.1f} ms<br>start +%{base:.1f} ms<br>"
                "tokens %{customdata[2]} · $%{customdata[3]:.6f}<br>%{customdata[4]}"
                "<extra></extra>"
            ),
        )
    )
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(len(rows))),
        ticktext=[row_label(r) for r in rows],
        autorange="reversed",
        tickfont={"family": "monospace", "size": 12},
    )
    fig.update_xaxes(title="ms since trace start", rangemode="tozero", showgrid=True)
    fig.update_layout(
        height=max(220, 26 * len(rows) + 80),
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        bargap=0.25,
        showlegend=False,
    )
    return fig
