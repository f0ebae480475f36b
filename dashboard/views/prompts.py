"""Prompt versions: LLM node prompts versioned by content hash as they are seen in spans.

The prompt of an LLM call is read from its span (the first attribute present wins):
``flowscope.prompt.template`` (the node's prompt template), ``gen_ai.system_instructions``,
``gen_ai.input.messages``, ``gen_ai.prompt``. A version is the SHA-256 of that text; per LLM node
we list each version's first/last seen, runs, tokens and cost, and diff two versions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from dashboard.client import Filters
from dashboard.diffing import text_diff_html
from dashboard.replies import Span, Trace
from dashboard.ui import PageContext, empty_store_help, fmt_time

PROMPT_ATTRIBUTES = (
    "flowscope.prompt.template",
    "gen_ai.system_instructions",
    "gen_ai.input.messages",
    "gen_ai.prompt",
)
SCAN_TRACES = 50


@dataclass
class Version:
    node: str
    hash: str
    text: str
    first_seen: int
    last_seen: int
    runs: set[str] = field(default_factory=set)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


def prompt_of(span: Span) -> str | None:
    for name in PROMPT_ATTRIBUTES:
        value = span.attributes.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def prompt_versions(traces: list[Trace]) -> dict[str, list[Version]]:
    """Per node (``title (id)``): its prompt versions, oldest first."""
    found: dict[tuple[str, str], Version] = {}
    for trace in traces:
        for span in trace.spans:
            text = prompt_of(span) if span.kind == "llm" else None
            if text is None:
                continue
            node = f"{span.attr('flowscope.node.title')} ({span.attr('flowscope.node.id')})"
            digest = hashlib.sha256(text.encode()).hexdigest()[:12]
            t = span.start_time_unix_nano
            v = found.setdefault((node, digest), Version(node, digest, text, t, t))
            v.first_seen, v.last_seen = min(v.first_seen, t), max(v.last_seen, t)
            v.runs.add(trace.trace_id)
            v.input_tokens += span.int_attr("gen_ai.usage.input_tokens")
            v.output_tokens += span.int_attr("gen_ai.usage.output_tokens")
            v.cost_usd += span.cost
    by_node: dict[str, list[Version]] = {}
    for v in sorted(found.values(), key=lambda v: v.first_seen):
        by_node.setdefault(v.node, []).append(v)
    return by_node


def versions_frame(versions: list[Version]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "version": [f"v{i + 1}" for i in range(len(versions))],
            "hash": [v.hash for v in versions],
            "first_seen": [fmt_time(v.first_seen) for v in versions],
            "last_seen": [fmt_time(v.last_seen) for v in versions],
            "runs": [len(v.runs) for v in versions],
            "input_tokens": [v.input_tokens for v in versions],
            "output_tokens": [v.output_tokens for v in versions],
            "cost_usd": [v.cost_usd for v in versions],
        }
    )


def _load(ctx: PageContext, workflow: str) -> list[Trace]:
    f = ctx.filters
    summaries = ctx.client.traces(
        Filters(since=f.since, service=f.service, workflow=workflow), limit=SCAN_TRACES
    )
    return [t for s in summaries if (t := ctx.client.trace(s.trace_id)) is not None]


def render(ctx: PageContext) -> None:
    st.title("Prompt versions")
    st.caption(
        f"LLM prompts by content hash, from the {SCAN_TRACES} most recent runs of a workflow."
    )
    workflows = sorted({n.workflow for n in ctx.client.node_stats(ctx.filters) if n.node_type})
    if not workflows:
        empty_store_help(ctx, "workflow runs")
        return
    workflow = st.selectbox("Workflow", workflows, key="pwf", bind="query-params")
    by_node = prompt_versions(_load(ctx, workflow or workflows[0]))
    if not by_node:
        st.info(
            "No prompt text recorded on the LLM spans of this workflow. The probe records it as "
            f"one of {', '.join(PROMPT_ATTRIBUTES)} when prompt capture is on."
        )
        return
    node = st.selectbox("LLM node", list(by_node), key="pnode", bind="query-params")
    versions = by_node[node or next(iter(by_node))]
    st.dataframe(
        versions_frame(versions),
        hide_index=True,
        key="versions-table",
        column_config={
            "version": "Version",
            "hash": "SHA-256 (12)",
            "first_seen": "First seen",
            "last_seen": "Last seen",
            "runs": "Runs",
            "input_tokens": "Input tokens",
            "output_tokens": "Output tokens",
            "cost_usd": st.column_config.NumberColumn("Cost USD", format="$%.6f"),
        },
    )
    if len(versions) < 2:
        st.caption("One version seen so far.")
        st.code(versions[0].text, language=None, wrap_lines=True)
        return
    labels = [f"v{i + 1} · {v.hash}" for i, v in enumerate(versions)]
    c1, c2 = st.columns(2)
    a = c1.selectbox("Version A", labels, index=len(labels) - 2, key="va", bind="query-params")
    b = c2.selectbox("Version B", labels, index=len(labels) - 1, key="vb", bind="query-params")
    left, right = text_diff_html(
        versions[labels.index(a or labels[-2])].text, versions[labels.index(b or labels[-1])].text
    )
    c1.markdown(left, unsafe_allow_html=True)
    c2.markdown(right, unsafe_allow_html=True)
