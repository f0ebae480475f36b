"""Read queries of the API. Every value reaches ClickHouse as a bound parameter ({name:Type})."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.storage import schema
from collector.storage.store import SpanStore

T = schema.TRACES
LLM_SPAN = "(FlowscopeKind = 'llm' OR (FlowscopeKind = '' AND Model != ''))"
WINDOW = "Timestamp >= {since:DateTime64(9)} AND Timestamp <= {until:DateTime64(9)}"


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    def params(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until}


@dataclass(frozen=True)
class TraceFilter:
    window: Window
    workflow: str | None = None
    service: str | None = None
    status: str | None = None
    min_duration_ms: float | None = None
    trace_id: str | None = None
    attrs: tuple[tuple[str, str], ...] = field(default=())

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = [WINDOW, "ParentSpanId = ''"]
        params = self.window.params()
        if self.workflow is not None:
            clauses.append("WorkflowName = {workflow:String}")
            params["workflow"] = self.workflow
        if self.service is not None:
            clauses.append("ServiceName = {service:String}")
            params["service"] = self.service
        if self.status is not None:
            clauses.append("StatusCode = {status:String}")
            params["status"] = self.status
        if self.min_duration_ms is not None:
            clauses.append("Duration >= {min_ns:UInt64}")
            params["min_ns"] = int(self.min_duration_ms * 1_000_000)
        if self.trace_id is not None:
            clauses.append("TraceId = {trace_id:String}")
            params["trace_id"] = self.trace_id
        for i, (key, value) in enumerate(self.attrs):
            clauses.append(
                f"TraceId IN (SELECT TraceId FROM {T} WHERE {WINDOW} "
                f"AND SpanAttributes[{{ak{i}:String}}] = {{av{i}:String}})"
            )
            params[f"ak{i}"] = key
            params[f"av{i}"] = value
        return " AND ".join(clauses), params


def _ms(ns: float) -> float:
    return round(float(ns) / 1e6, 3)


def search_traces(
    store: SpanStore, flt: TraceFilter, limit: int, offset: int
) -> list[dict[str, Any]]:
    where, params = flt.where()
    params.update(limit=limit, offset=offset)
    roots = store.query(
        f"SELECT TraceId, WorkflowName, ServiceName, SpanName, "
        f"toUnixTimestamp64Nano(Timestamp) AS start_ns, Duration, StatusCode "
        f"FROM {T} WHERE {where} ORDER BY Timestamp DESC, TraceId "
        f"LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}",
        params,
    )
    costs: dict[str, tuple[float, int]] = {}
    if roots:
        rows = store.query(
            f"SELECT TraceId, sum(CostUsd) AS cost, count() AS spans FROM {T} "
            f"WHERE TraceId IN {{ids:Array(String)}} AND Timestamp >= {{since:DateTime64(9)}} "
            f"GROUP BY TraceId",
            {"ids": [r["TraceId"] for r in roots], "since": flt.window.since},
        )
        costs = {r["TraceId"]: (float(r["cost"]), int(r["spans"])) for r in rows}
    return [
        {
            "trace_id": r["TraceId"],
            "workflow": r["WorkflowName"],
            "start_time_unix_nano": int(r["start_ns"]),
            "duration_ns": int(r["Duration"]),
            "status_code": r["StatusCode"],
            "cost_usd": costs.get(r["TraceId"], (0.0, 0))[0],
            "service_name": r["ServiceName"],
            "name": r["SpanName"],
            "span_count": costs.get(r["TraceId"], (0.0, 0))[1],
        }
        for r in roots
    ]


SPAN_FIELDS = (
    "SpanId, ParentSpanId, SpanName, SpanKind, toUnixTimestamp64Nano(Timestamp) AS start_ns, "
    "Duration, StatusCode, StatusMessage, ServiceName, ResourceAttributes, ScopeName, "
    "ScopeVersion, SpanAttributes, TraceState, CostUsd, CostSource, "
    "length(Events.Timestamp) AS n_events, length(Links.TraceId) AS n_links"
)
# Events and links: a dozen more column streams to open per lookup, and most spans have none,
# so they are read in a second query only for the spans whose counts above say they have some.
NESTED_FIELDS = (
    "arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp) AS ev_ts, Events.Name AS ev_name, "
    "Events.Attributes AS ev_attrs, Links.TraceId AS lk_trace, Links.SpanId AS lk_span, "
    "Links.TraceState AS lk_state, Links.Attributes AS lk_attrs"
)
HAS_NESTED = "(notEmpty(Events.Timestamp) OR notEmpty(Links.TraceId))"
NO_NESTED: dict[str, Any] = dict.fromkeys(
    ("ev_ts", "ev_name", "ev_attrs", "lk_trace", "lk_span", "lk_state", "lk_attrs"), ()
)


def _in_range(fields: str, extra: str = "") -> str:
    """One round trip: the scalar subquery reads the trace's time range from the trace-id lookup
    table, and ClickHouse prunes partitions and parts of ``otel_traces`` with it (then reads the
    ``by_trace_id`` projection, one granule per part)."""
    return (
        f"WITH (SELECT (toDateTime64(min(Start), 9), addSeconds(toDateTime64(max(End), 9), 1)) "
        f"FROM {schema.TRACE_ID_TS} WHERE TraceId = {{trace_id:String}}) AS bounds "
        f"SELECT {fields} FROM {T} WHERE TraceId = {{trace_id:String}} "
        f"AND Timestamp >= bounds.1 AND Timestamp < bounds.2{extra} ORDER BY Timestamp, SpanId"
    )


def _unbounded(fields: str, extra: str = "") -> str:
    """Spans stored without the lookup view (e.g. restored from a backup)."""
    return (
        f"SELECT {fields} FROM {T} WHERE TraceId = {{trace_id:String}}{extra} "
        "ORDER BY Timestamp, SpanId"
    )


TRACE_BY_RANGE = _in_range(SPAN_FIELDS)


def get_trace(store: SpanStore, trace_id: str) -> list[dict[str, Any]]:
    """All spans of one trace, found through the trace id → time range table."""
    params = {"trace_id": trace_id}
    select = _in_range
    rows = store.query(TRACE_BY_RANGE, params)
    if not rows:
        select = _unbounded
        rows = store.query(select(SPAN_FIELDS), params)
    nested: dict[str, dict[str, Any]] = {}
    if any(r["n_events"] or r["n_links"] for r in rows):
        found = store.query(select(f"SpanId, {NESTED_FIELDS}", f" AND {HAS_NESTED}"), params)
        nested = {r["SpanId"]: r for r in found}
    seen: set[str] = set()
    spans = []
    for r in rows:
        if r["SpanId"] in seen:  # a re-sent span (client retry) shows once
            continue
        seen.add(r["SpanId"])
        spans.append(_span(r, nested.get(r["SpanId"], NO_NESTED)))
    _roll_up_cost(spans)
    return spans


def _span(r: dict[str, Any], nested: dict[str, Any]) -> dict[str, Any]:
    return {
        "span_id": r["SpanId"],
        "parent_span_id": r["ParentSpanId"],
        "name": r["SpanName"],
        "start_time_unix_nano": int(r["start_ns"]),
        "duration_ns": int(r["Duration"]),
        "status_code": r["StatusCode"],
        "attributes": dict(r["SpanAttributes"]),
        "status_message": r["StatusMessage"],
        "kind": r["SpanKind"],
        "trace_state": r["TraceState"],
        "service_name": r["ServiceName"],
        "resource": dict(r["ResourceAttributes"]),
        "scope": {"name": r["ScopeName"], "version": r["ScopeVersion"]},
        "events": [
            {"time_unix_nano": int(t), "name": n, "attributes": dict(a)}
            for t, n, a in zip(nested["ev_ts"], nested["ev_name"], nested["ev_attrs"], strict=True)
        ],
        "links": [
            {"trace_id": t, "span_id": s, "trace_state": st, "attributes": dict(a)}
            for t, s, st, a in zip(
                nested["lk_trace"],
                nested["lk_span"],
                nested["lk_state"],
                nested["lk_attrs"],
                strict=True,
            )
        ],
        "cost_usd": float(r["CostUsd"]),
        "cost_source": r["CostSource"],
    }


def _roll_up_cost(spans: list[dict[str, Any]]) -> None:
    """``cost_usd_total`` = own cost + every descendant's (parents roll cost up from children)."""
    children: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        children.setdefault(span["parent_span_id"], []).append(span)

    def total(span: dict[str, Any], depth: int) -> float:
        if "cost_usd_total" in span:
            return float(span["cost_usd_total"])
        value = span["cost_usd"]
        if depth < 1000:
            value += sum(total(c, depth + 1) for c in children.get(span["span_id"], []))
        span["cost_usd_total"] = value
        return float(value)

    for span in spans:
        total(span, 0)


def span_io(store: SpanStore, trace_id: str, span_id: str) -> dict[str, Any] | None:
    rows = store.query(
        f"SELECT SpanAttributes FROM {T} WHERE TraceId = {{trace_id:String}} "
        "AND SpanId = {span_id:String} LIMIT 1",
        {"trace_id": trace_id, "span_id": span_id},
    )
    if not rows:
        return None
    attrs: dict[str, str] = dict(rows[0]["SpanAttributes"])

    def decoded(key: str) -> Any:
        raw = attrs.get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "inputs": decoded("flowscope.node.inputs"),
        "outputs": decoded("flowscope.node.outputs"),
        "prompt": decoded("gen_ai.prompt") or decoded("gen_ai.input.messages"),
        "completion": decoded("gen_ai.completion") or decoded("gen_ai.output.messages"),
    }


LOG_FIELDS = (
    "toUnixTimestamp64Nano(Timestamp) AS ts_ns, "
    "toUnixTimestamp64Nano(ObservedTimestamp) AS observed_ns, TraceId, SpanId, TraceFlags, "
    "SeverityText, SeverityNumber, Body, LogAttributes, ServiceName, ResourceAttributes, "
    "ScopeName, ScopeVersion"
)
# a record re-sent by a client retry shows once (before the page limit, so pages stay full)
LOG_ONCE = "LIMIT 1 BY TraceId, Timestamp, ObservedTimestamp, SpanId, SeverityNumber, Body"

# A trace's log records: the trace-id lookup table bounds the time range (partition pruning)
# from a minute before its first span to a day after its last span started (a span, hence its
# logs, can run long after its start); a trace with no stored span (all sampled out) is looked
# up unbounded. The TraceId bloom filter skips the other granules either way.
TRACE_LOGS = (
    "WITH (SELECT (min(Start) - 60, max(End) + 86400, count()) "
    f"FROM {schema.TRACE_ID_TS} WHERE TraceId = {{trace_id:String}}) AS bounds "
    f"SELECT {LOG_FIELDS} FROM {schema.LOGS} WHERE TraceId = {{trace_id:String}} "
    "AND (bounds.3 = 0 OR (TimestampTime >= bounds.1 AND TimestampTime <= bounds.2)) "
    f"ORDER BY Timestamp, ObservedTimestamp, SpanId {LOG_ONCE} LIMIT {{limit:UInt32}}"
)


def trace_logs(store: SpanStore, trace_id: str, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The log records of one trace, oldest first (at most ``limit``; True when there were more).

    A record re-sent by a client retry (same times, span, severity and body) shows once.
    """
    rows = store.query(TRACE_LOGS, {"trace_id": trace_id, "limit": limit + 1})
    return [_log(r) for r in rows[:limit]], len(rows) > limit


# OpenTelemetry's severity ranges: TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR 17-20,
# FATAL 21-24 (the lowest number of each).
SEVERITY_FLOOR = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}


@dataclass(frozen=True)
class LogFilter:
    window: Window
    service: str | None = None
    min_severity: str | None = None  # a key of SEVERITY_FLOOR
    text: str | None = None  # case-insensitive substring of the body
    trace_id: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        # TimestampTime (the sort key's and the partition's column) prunes; Timestamp is exact
        clauses = [
            "TimestampTime >= toDateTime({since:DateTime64(9)}) "
            "AND TimestampTime <= toDateTime({until:DateTime64(9)})",
            WINDOW,
        ]
        params = self.window.params()
        if self.service is not None:
            clauses.append("ServiceName = {service:String}")
            params["service"] = self.service
        if self.min_severity is not None:
            clauses.append("SeverityNumber >= {floor:UInt8}")
            params["floor"] = SEVERITY_FLOOR[self.min_severity]
        if self.text:
            clauses.append("positionCaseInsensitiveUTF8(Body, {text:String}) > 0")
            params["text"] = self.text
        if self.trace_id is not None:
            clauses.append("TraceId = {trace_id:String}")
            params["trace_id"] = self.trace_id
        return " AND ".join(clauses), params


def search_logs(store: SpanStore, flt: LogFilter, limit: int, offset: int) -> list[dict[str, Any]]:
    """Log records of every trace (and none) in the window, newest first, filtered and paged."""
    where, params = flt.where()
    params.update(limit=limit, offset=offset)
    rows = store.query(
        f"SELECT {LOG_FIELDS} FROM {schema.LOGS} WHERE {where} "
        f"ORDER BY Timestamp DESC, ObservedTimestamp DESC, SpanId {LOG_ONCE} "
        "LIMIT {limit:UInt32} OFFSET {offset:UInt32}",
        params,
    )
    return [_log(r) for r in rows]


def _log(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "time_unix_nano": int(r["ts_ns"]),
        "observed_time_unix_nano": int(r["observed_ns"]),
        "trace_id": r["TraceId"],
        "span_id": r["SpanId"],
        "trace_flags": int(r["TraceFlags"]),
        "severity_text": r["SeverityText"],
        "severity_number": int(r["SeverityNumber"]),
        "body": r["Body"],
        "attributes": dict(r["LogAttributes"]),
        "service_name": r["ServiceName"],
        "resource": dict(r["ResourceAttributes"]),
        "scope": {"name": r["ScopeName"], "version": r["ScopeVersion"]},
    }
