"""Run history: every stored run (sampling never drops one) and a node-by-node diff of two.

Reads the collector's ``/api/runs`` and ``/api/runs/diff``, which serve the SQL run store that
``flowscope run`` writes when ``FLOWSCOPE_DATABASE_URL`` is set.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.replies import StoredNodePair, StoredRun, StoredRunDiff
from dashboard.ui import PageContext, fmt_ms, fmt_usd, tile_columns, url_select
from dashboard.views.diff import show_io

NOT_ENABLED = """**Run history is off on this collector.** Runs are kept in the SQL run store
that `flowscope run` writes when `FLOWSCOPE_DATABASE_URL` is set; the collector serves them when
started with the same database:

```bash
flowscope collector --database-url sqlite:///$PWD/.flowscope/runs.db
```
(or `FLOWSCOPE_DATABASE_URL=… flowscope collector`)."""

NO_RUNS = """**No stored runs yet.** Run a workflow with the run store on, e.g.

```bash
FLOWSCOPE_DATABASE_URL=sqlite:///$PWD/.flowscope/runs.db \\
  flowscope run ../shared/dify-dsl/SEO_Slug_Generator.yml --input title=Hello
```"""


def runs_frame(runs: list[StoredRun]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "run_id": r.id,
                "workflow": r.workflow_name,
                "status": r.status,
                "started_at": r.started_at,
                "elapsed_ms": r.elapsed_ms,
                "nodes": r.node_count,
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
                "cost_usd": r.cost_usd,
            }
            for r in runs
        ]
    )


def pairs_frame(diff: StoredRunDiff) -> pd.DataFrame:
    """One row per paired node execution: status, latency, tokens and cost of A, B and B - A."""
    records = []
    for p in diff.pairs:
        a, b = p.left, p.right
        ref = a or b
        assert ref is not None
        records.append(
            {
                "node": p.node_id if p.occurrence == 1 else f"{p.node_id}#{p.occurrence}",
                "title": ref.title,
                "type": ref.node_type,
                "status_a": a.status if a else "—",
                "status_b": b.status if b else "—",
                "ms_a": a.elapsed_ms if a else None,
                "ms_b": b.elapsed_ms if b else None,
                "ms_delta": p.deltas.get("elapsed_ms"),
                "tokens_delta": _sum(p.deltas, "input_tokens", "output_tokens"),
                "cost_delta": p.deltas.get("cost_usd"),
                "changed": ", ".join(p.changed),
            }
        )
    return pd.DataFrame(records)


def _sum(deltas: dict[str, float | None], *names: str) -> float | None:
    values = [deltas.get(n) for n in names]
    return None if any(v is None for v in values) else sum(v or 0 for v in values)


def _run_label(r: StoredRun) -> str:
    return f"{r.started_at[:19]} · {r.status} · {fmt_ms(r.elapsed_ms)} · {r.id[:12]}"


def _node_io(pair: StoredNodePair) -> None:
    a, b = pair.left, pair.right
    show_io("Inputs", a.inputs if a else None, b.inputs if b else None)
    show_io("Outputs", a.outputs if a else None, b.outputs if b else None)


def _show_diff(diff: StoredRunDiff) -> None:
    tiles = tile_columns(3)
    ms = diff.deltas.get("elapsed_ms")
    tiles[0].metric("Latency B − A", "—" if ms is None else f"{ms:+,.1f} ms", border=True)
    tokens = _sum(diff.deltas, "input_tokens", "output_tokens")
    tiles[1].metric("Tokens B − A", "—" if tokens is None else f"{int(tokens):+,}", border=True)
    cost = diff.deltas.get("cost_usd")
    shown = "—" if cost is None else f"{'-' if cost < 0 else '+'}{fmt_usd(abs(cost))}"
    tiles[2].metric("Cost B − A", shown, border=True)
    st.dataframe(
        pairs_frame(diff),
        hide_index=True,
        key="history-diff-table",
        column_config={
            "ms_a": st.column_config.NumberColumn("ms A", format="%.1f"),
            "ms_b": st.column_config.NumberColumn("ms B", format="%.1f"),
            "ms_delta": st.column_config.NumberColumn("Δ ms", format="%+.1f"),
            "tokens_delta": st.column_config.NumberColumn("Δ tokens", format="%+d"),
            "cost_delta": st.column_config.NumberColumn("Δ cost", format="$%+.6f"),
        },
    )
    st.subheader("Inputs and outputs, node by node")
    for pair in diff.pairs:
        ref = pair.left or pair.right
        assert ref is not None
        changed = bool(pair.changed) or (
            pair.left is not None
            and pair.right is not None
            and pair.left.inputs != pair.right.inputs
        )
        mark = ", ".join(pair.changed) if pair.changed else "unchanged"
        icon = ":material/change_circle:" if changed else ":material/check_circle:"
        title = f"{ref.title or pair.node_id} ({ref.node_type}) — {mark}"
        with st.expander(title, expanded=changed, icon=icon):
            _node_io(pair)


def render(ctx: PageContext) -> None:
    st.title("Run history")
    st.caption("Every stored run, unsampled, from the run store; diff two of them node by node.")
    page = ctx.client.stored_runs(workflow=ctx.filters.workflow, limit=200)
    if page is None:
        st.info(NOT_ENABLED, icon=":material/database_off:")
        return
    if not page.runs:
        st.info(NO_RUNS, icon=":material/inbox:")
        return
    st.dataframe(
        runs_frame(page.runs),
        hide_index=True,
        key="history-runs",
        column_config={
            "elapsed_ms": st.column_config.NumberColumn("ms", format="%.1f"),
            "cost_usd": st.column_config.NumberColumn("cost", format="$%.6f"),
        },
    )
    if page.next_cursor:
        st.caption("Showing the newest 200 runs; narrow with the workflow filter.")
    st.subheader("Diff two stored runs")
    workflows = sorted({r.workflow_name for r in page.runs})
    workflow = st.selectbox("Workflow", workflows, key="hwf", bind="query-params")
    runs = [r for r in page.runs if r.workflow_name == workflow]
    if len(runs) < 2:
        st.info(f"Workflow {workflow!r} has {len(runs)} stored run(s); a diff needs two.")
        return
    labels = {r.id: _run_label(r) for r in runs}
    ids = list(labels)
    c1, c2 = st.columns(2)
    a_id = url_select("Run A (base)", labels, "ra", default=ids[1], container=c1)
    other = next(i for i in ids if i != a_id)
    b_id = url_select("Run B (compare)", labels, "rb", default=other, container=c2)
    if a_id == b_id:
        st.warning("Pick two different runs.")
        return
    diff = ctx.client.stored_run_diff(a_id, b_id)
    if diff is None:
        st.warning("One of the two runs is no longer in the run store; pick another.")
        return
    _show_diff(diff)
