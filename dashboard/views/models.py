"""Models: LLM cost and tokens by provider and model, and where each price came from."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.replies import ModelStat
from dashboard.ui import PageContext, empty_store_help, fmt_int, fmt_usd, tile_columns

SOURCES = {
    "provided": "provided by the caller (flowscope.cost.usd)",
    "genai-prices": "genai-prices",
    "override": "price override file (FLOWSCOPE_PRICES_FILE)",
}


def models_frame(models: list[ModelStat]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            m.model_dump(
                include={
                    "provider",
                    "model",
                    "calls",
                    "errors",
                    "input_tokens",
                    "output_tokens",
                    "cache_read_tokens",
                    "cost_usd",
                    "price_source",
                    "p50_ms",
                    "p95_ms",
                }
            )
            for m in models
        ]
    )
    total = float(frame["cost_usd"].sum())
    frame["cost_share"] = frame["cost_usd"] / total if total > 0 else 0.0
    return frame


def render(ctx: PageContext) -> None:
    st.title("Models")
    st.caption("LLM calls by provider and model (estimated totals: sampled spans × 1/rate).")
    models = ctx.client.model_stats(ctx.filters)
    if not models:
        empty_store_help(ctx, "LLM spans")
        return
    frame = models_frame(models)
    cols = tile_columns(4)
    cols[0].metric("Models", fmt_int(len(frame)), border=True)
    cols[1].metric("Calls", fmt_int(frame["calls"].sum()), border=True)
    cols[2].metric(
        "Tokens", fmt_int(frame["input_tokens"].sum() + frame["output_tokens"].sum()), border=True
    )
    cols[3].metric("Cost", fmt_usd(float(frame["cost_usd"].sum())), border=True)
    st.dataframe(
        frame,
        hide_index=True,
        key="models-table",
        column_order=[
            "provider",
            "model",
            "calls",
            "errors",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cost_usd",
            "cost_share",
            "price_source",
            "p50_ms",
            "p95_ms",
        ],
        column_config={
            "cost_usd": st.column_config.NumberColumn("cost USD", format="$%.6f"),
            "cost_share": st.column_config.ProgressColumn(
                "cost share", format="percent", min_value=0.0, max_value=1.0
            ),
            "price_source": st.column_config.TextColumn(
                "price source", help="; ".join(f"{k}: {v}" for k, v in SOURCES.items())
            ),
            "p50_ms": st.column_config.NumberColumn("p50 ms", format="%.1f"),
            "p95_ms": st.column_config.NumberColumn("p95 ms", format="%.1f"),
        },
    )
    frame["label"] = frame["provider"] + " / " + frame["model"]
    left, right = st.columns(2)
    cost = px.bar(
        frame,
        x="label",
        y="cost_usd",
        labels={"label": "", "cost_usd": "Cost (USD)"},
        title="Cost by model",
        color_discrete_sequence=["#5b5bd6"],
    )
    tokens = px.bar(
        frame.melt(
            id_vars="label",
            value_vars=["input_tokens", "output_tokens"],
            var_name="kind",
            value_name="tokens",
        ),
        x="label",
        y="tokens",
        color="kind",
        barmode="stack",
        title="Tokens by model",
        labels={"label": "", "kind": ""},
        color_discrete_sequence=["#3e63dd", "#8e4ec6"],
    )
    for fig in (cost, tokens):
        fig.update_layout(height=320, margin={"l": 0, "r": 0, "t": 40, "b": 0})
    left.plotly_chart(cost, key="models-cost")
    right.plotly_chart(tokens, key="models-tokens")
