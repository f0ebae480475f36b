"""Aggregate read queries: node, workflow, model stats, overview, cost over time, true usage.

Span-based figures are weighted by each span's adjusted count (1 / ``sampling.rate``), so they
estimate the population; ``true_*`` figures come from the probe's usage metrics.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from collector.pricing import Pricer, Usage
from collector.storage import schema
from collector.storage.queries import LLM_SPAN, WINDOW, Window, _ms
from collector.storage.store import SpanStore

T = schema.TRACES
QUANTILES = "quantilesTDigestWeighted(0.5, 0.95, 0.99)(Duration, AdjustedCount)"


def _filters(workflow: str | None, service: str | None, params: dict[str, Any]) -> str:
    clauses = ""
    if workflow is not None:
        clauses += " AND WorkflowName = {workflow:String}"
        params["workflow"] = workflow
    if service is not None:
        clauses += " AND ServiceName = {service:String}"
        params["service"] = service
    return clauses


ROLLUP_FIELDS = (
    "ServiceName, WorkflowName, NodeId, NodeType, NodeTitle, Spans, Count, Errors, InputTokens, "
    "OutputTokens, CostUsd, Latency"
)


def _rollup_source(window: Window, where: str) -> tuple[str, dict[str, Any]]:
    """Whole hours from the hourly rollup, the partial hours at both ends from the minute one.

    ``where`` (workflow / service filters) goes into every branch, next to the time range that
    leads both tables' sort keys.
    """
    first_minute = window.since.replace(second=0, microsecond=0)
    h0 = first_minute.replace(minute=0)
    if h0 < first_minute:
        h0 += timedelta(hours=1)
    h1 = window.until.replace(minute=0, second=0, microsecond=0)
    params: dict[str, Any] = {"m0": first_minute, "m1": window.until}
    if h0 >= h1:
        return (
            f"SELECT {ROLLUP_FIELDS} FROM {schema.NODE_ROLLUP} "
            f"WHERE Minute >= {{m0:DateTime}} AND Minute <= {{m1:DateTime64(9)}}{where}"
        ), params
    params.update(h0=h0, h1=h1)
    return (
        f"SELECT {ROLLUP_FIELDS} FROM {schema.NODE_ROLLUP_HOURLY} "
        f"WHERE Hour >= {{h0:DateTime}} AND Hour < {{h1:DateTime}}{where} "
        f"UNION ALL SELECT {ROLLUP_FIELDS} FROM {schema.NODE_ROLLUP} "
        "WHERE ((Minute >= {m0:DateTime} AND Minute < {h0:DateTime}) "
        f"OR (Minute >= {{h1:DateTime}} AND Minute <= {{m1:DateTime64(9)}})){where}"
    ), params


def node_stats(
    store: SpanStore, window: Window, workflow: str | None, service: str | None
) -> list[dict[str, Any]]:
    """Per workflow node, merged from the rollups' states (never from the spans)."""
    filters: dict[str, Any] = {}
    where = _filters(workflow, service, filters)
    source, params = _rollup_source(window, where)
    params.update(filters)
    rows = store.query(
        "SELECT WorkflowName, NodeId, anyIf(NodeType, NodeType != '') AS node_type, "
        "anyIf(NodeTitle, NodeTitle != '') AS title, sum(Count) AS count, sum(Spans) AS spans, "
        "sum(Errors) AS errors, quantilesTDigestWeightedMerge(0.5, 0.95, 0.99)(Latency) AS q, "
        "sum(InputTokens) AS input_tokens, sum(OutputTokens) AS output_tokens, "
        f"sum(CostUsd) AS cost FROM ({source}) "
        "GROUP BY WorkflowName, NodeId ORDER BY WorkflowName, NodeId",
        params,
    )
    return [
        {
            "workflow": r["WorkflowName"],
            "node_id": r["NodeId"],
            "node_type": r["node_type"],
            "title": r["title"],
            "count": int(r["count"]),
            "errors": int(r["errors"]),
            "p50_ms": _ms(r["q"][0]) if r["spans"] else None,
            "p95_ms": _ms(r["q"][1]) if r["spans"] else None,
            "input_tokens": int(r["input_tokens"]),
            "output_tokens": int(r["output_tokens"]),
            "cost_usd": float(r["cost"]),
            "p99_ms": _ms(r["q"][2]) if r["spans"] else None,
            "sampled_spans": int(r["spans"]),
            "error_rate": (int(r["errors"]) / int(r["count"])) if r["count"] else 0.0,
        }
        for r in rows
    ]


def workflow_stats(store: SpanStore, window: Window, service: str | None) -> list[dict[str, Any]]:
    params = window.params()
    extra = _filters(None, service, params)
    runs = store.query(
        f"SELECT WorkflowName, sum(AdjustedCount) AS runs, count() AS sampled, "
        f"sumIf(AdjustedCount, StatusCode = 'Error') AS errors, {QUANTILES} AS q, "
        f"max(Timestamp) AS last FROM {T} WHERE {WINDOW} AND FlowscopeKind = 'workflow'{extra} "
        "GROUP BY WorkflowName ORDER BY WorkflowName",
        params,
    )
    usage = {
        r["WorkflowName"]: r
        for r in store.query(
            f"SELECT WorkflowName, sum(CostUsd * AdjustedCount) AS cost, "
            f"sum(InputTokens * AdjustedCount) AS input_tokens, "
            f"sum(OutputTokens * AdjustedCount) AS output_tokens FROM {T} "
            f"WHERE {WINDOW} AND {LLM_SPAN}{extra} GROUP BY WorkflowName",
            params,
        )
    }
    out = []
    for r in runs:
        u = usage.get(r["WorkflowName"], {})
        count = int(r["runs"])
        out.append(
            {
                "workflow": r["WorkflowName"],
                "runs": count,
                "sampled_runs": int(r["sampled"]),
                "errors": int(r["errors"]),
                "error_rate": int(r["errors"]) / count if count else 0.0,
                "p50_ms": _ms(r["q"][0]),
                "p95_ms": _ms(r["q"][1]),
                "p99_ms": _ms(r["q"][2]),
                "input_tokens": int(u.get("input_tokens", 0)),
                "output_tokens": int(u.get("output_tokens", 0)),
                "cost_usd": float(u.get("cost", 0.0)),
                "last_run": r["last"].isoformat(),
            }
        )
    return out


def model_stats(
    store: SpanStore, window: Window, workflow: str | None, service: str | None
) -> list[dict[str, Any]]:
    params = window.params()
    extra = _filters(workflow, service, params)
    rows = store.query(
        f"SELECT Provider, Model, sum(AdjustedCount) AS calls, count() AS sampled, "
        f"sum(InputTokens * AdjustedCount) AS input_tokens, "
        f"sum(OutputTokens * AdjustedCount) AS output_tokens, "
        f"sum(CacheReadTokens * AdjustedCount) AS cache_read_tokens, "
        f"sum(CostUsd * AdjustedCount) AS cost, groupUniqArray(CostSource) AS sources, "
        f"sumIf(AdjustedCount, StatusCode = 'Error') AS errors, {QUANTILES} AS q "
        f"FROM {T} WHERE {WINDOW} AND {LLM_SPAN}{extra} "
        "GROUP BY Provider, Model ORDER BY cost DESC, Provider, Model",
        params,
    )
    return [
        {
            "provider": r["Provider"],
            "model": r["Model"],
            "calls": int(r["calls"]),
            "sampled_calls": int(r["sampled"]),
            "errors": int(r["errors"]),
            "input_tokens": int(r["input_tokens"]),
            "output_tokens": int(r["output_tokens"]),
            "cache_read_tokens": int(r["cache_read_tokens"]),
            "cost_usd": float(r["cost"]),
            "price_source": ",".join(sorted(s for s in r["sources"] if s)),
            "p50_ms": _ms(r["q"][0]),
            "p95_ms": _ms(r["q"][1]),
        }
        for r in rows
    ]


Bucket = Literal["minute", "hour", "day"]
GroupBy = Literal["workflow", "model", "none"]
_BUCKET_FN = {"minute": "toStartOfMinute", "hour": "toStartOfHour", "day": "toStartOfDay"}
_GROUP_EXPR = {"workflow": "WorkflowName", "model": "Model", "none": "''"}


def cost_over_time(
    store: SpanStore,
    window: Window,
    bucket: Bucket,
    group_by: GroupBy,
    workflow: str | None,
    service: str | None,
) -> list[dict[str, Any]]:
    params = window.params()
    extra = _filters(workflow, service, params)
    fn = _BUCKET_FN[bucket]
    group = _GROUP_EXPR[group_by]
    rows = store.query(
        f"SELECT {fn}(Timestamp) AS bucket, {group} AS grp, sum(CostUsd * AdjustedCount) AS cost, "
        f"sum(InputTokens * AdjustedCount) AS input_tokens, "
        f"sum(OutputTokens * AdjustedCount) AS output_tokens, sum(AdjustedCount) AS calls "
        f"FROM {T} WHERE {WINDOW} AND {LLM_SPAN}{extra} "
        "GROUP BY bucket, grp ORDER BY bucket, grp",
        params,
    )
    return [
        {
            "bucket_start": r["bucket"].isoformat(),
            "group": r["grp"],
            "cost_usd": float(r["cost"]),
            "input_tokens": int(r["input_tokens"]),
            "output_tokens": int(r["output_tokens"]),
            "calls": int(r["calls"]),
        }
        for r in rows
    ]


USAGE_TOKENS = "flowscope.llm.tokens"
USAGE_CALLS = "flowscope.llm.calls"
_TOKEN_KEYS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
}


def _usage_entry(**keys: str) -> dict[str, Any]:
    return {
        **keys,
        "calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cost_usd": 0.0,
    }


def true_usage(
    store: SpanStore, window: Window, workflow: str | None, service: str | None, pricer: Pricer
) -> dict[str, Any]:
    """Exact totals from the probe's cumulative usage counters (docs/contracts.md).

    Per series the growth inside the window is the last value up to ``until`` minus the last
    value before ``since``; re-sent points repeat the running total, so retries are harmless.
    """
    params = window.params()
    extra = _filters(workflow, service, params)
    params["names"] = [USAGE_TOKENS, USAGE_CALLS]
    rows = store.query(
        "SELECT Provider, Model, WorkflowName, MetricName, TokenType, sum(v) AS value FROM ("
        "  SELECT Provider, Model, WorkflowName, MetricName, TokenType, if(Cumulative = 1,"
        "    argMax(Value, Timestamp)"
        "    - argMaxIf(Value, Timestamp, Timestamp < {since:DateTime64(9)}),"
        "    sumIf(Value, Timestamp >= {since:DateTime64(9)})) AS v"
        f"  FROM {schema.USAGE} WHERE Timestamp <= {{until:DateTime64(9)}}"
        f"   AND MetricName IN {{names:Array(String)}}{extra}"
        "  GROUP BY ServiceName, ServiceInstance, MetricName, Attributes, StartTimestamp,"
        "   Cumulative, Provider, Model, WorkflowName, TokenType)"
        " GROUP BY Provider, Model, WorkflowName, MetricName, TokenType",
        params,
    )
    totals = _usage_entry()
    by_model: dict[tuple[str, str], dict[str, Any]] = {}
    by_workflow: dict[str, dict[str, Any]] = {}
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = "calls" if r["MetricName"] == USAGE_CALLS else _TOKEN_KEYS.get(r["TokenType"], "")
        if not key:
            continue
        value = round(float(r["value"]))
        cell = cells.setdefault((r["Provider"], r["Model"], r["WorkflowName"]), _usage_entry())
        cell[key] += value
    for (provider, model, wf), cell in cells.items():
        cost, _ = pricer.price(
            Usage(
                provider,
                model,
                cell["input_tokens"],
                cell["output_tokens"],
                cell["cache_read_tokens"],
            )
        )
        cell["cost_usd"] = cost
        targets = (
            totals,
            by_model.setdefault((provider, model), _usage_entry(provider=provider, model=model)),
            by_workflow.setdefault(wf, _usage_entry(workflow=wf)),
        )
        for target in targets:
            for name in ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cost_usd"):
                target[name] += cell[name]
    return {
        "totals": totals,
        "by_model": sorted(by_model.values(), key=lambda e: -float(e["cost_usd"])),
        "by_workflow": sorted(by_workflow.values(), key=lambda e: str(e["workflow"])),
    }


def overview(
    store: SpanStore, window: Window, workflow: str | None, service: str | None, pricer: Pricer
) -> dict[str, Any]:
    params = window.params()
    extra = _filters(workflow, service, params)
    runs = store.query(
        f"SELECT sum(AdjustedCount) AS runs, count() AS sampled, "
        f"sumIf(AdjustedCount, StatusCode = 'Error') AS errors, {QUANTILES} AS q "
        f"FROM {T} WHERE {WINDOW} AND FlowscopeKind = 'workflow'{extra}",
        params,
    )[0]
    spans = store.query(
        f"SELECT count() AS spans, sumIf(CostUsd, {LLM_SPAN}) AS cost, "
        f"sumIf(InputTokens, {LLM_SPAN}) AS input_tokens, "
        f"sumIf(OutputTokens, {LLM_SPAN}) AS output_tokens, "
        f"sumIf(CostUsd * AdjustedCount, {LLM_SPAN}) AS est_cost, "
        f"sumIf(InputTokens * AdjustedCount, {LLM_SPAN}) AS est_input, "
        f"sumIf(OutputTokens * AdjustedCount, {LLM_SPAN}) AS est_output "
        f"FROM {T} WHERE {WINDOW}{extra}",
        params,
    )[0]
    usage = true_usage(store, window, workflow, service, pricer)
    true = [usage["totals"]] if usage["by_model"] else []
    count = int(runs["runs"])
    has_runs = int(runs["sampled"]) > 0
    result: dict[str, Any] = {
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "runs": count,
        "sampled_runs": int(runs["sampled"]),
        "errors": int(runs["errors"]),
        "error_rate": int(runs["errors"]) / count if count else 0.0,
        "p50_ms": _ms(runs["q"][0]) if has_runs else None,
        "p95_ms": _ms(runs["q"][1]) if has_runs else None,
        "p99_ms": _ms(runs["q"][2]) if has_runs else None,
        "spans": int(spans["spans"]),
        "sampled_cost_usd": float(spans["cost"]),
        "sampled_input_tokens": int(spans["input_tokens"]),
        "sampled_output_tokens": int(spans["output_tokens"]),
        "estimated_cost_usd": float(spans["est_cost"]),
        "estimated_input_tokens": int(spans["est_input"]),
        "estimated_output_tokens": int(spans["est_output"]),
        "true_cost_usd": true[0]["cost_usd"] if true else None,
        "true_input_tokens": true[0]["input_tokens"] if true else None,
        "true_output_tokens": true[0]["output_tokens"] if true else None,
        "true_calls": true[0]["calls"] if true else None,
        "true_cache_read_tokens": true[0]["cache_read_tokens"] if true else None,
    }
    result["total_cost_usd"] = result["true_cost_usd"] if true else result["estimated_cost_usd"]
    result["total_tokens"] = (
        (result["true_input_tokens"] + result["true_output_tokens"])
        if true
        else result["estimated_input_tokens"] + result["estimated_output_tokens"]
    )
    return result
