"""The read API the dashboard uses: JSON, read-only, parameterised, paginated, time-bounded.

The first-cut keys (``/api/traces/{trace_id}``, ``/api/traces``, ``/api/stats/nodes``) are a
contract (docs/contracts.md); everything else extends them. Time windows default to the last
7 days and ``since``/``until`` accept ISO 8601 or Unix seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from collector.api.auth import require_bearer
from collector.pricing import Pricer
from collector.runtime import Runtime
from collector.storage import queries, stats
from collector.storage.store import SpanStore

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=400)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)  # DateTime64(9) ends in April 2262
HEX32 = r"^[0-9a-fA-F]{32}$"
HEX16 = r"^[0-9a-fA-F]{16}$"


def _read_access(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    require_bearer(request, runtime.settings.read_token, "FLOWSCOPE_READ")


router = APIRouter(prefix="/api", tags=["read"], dependencies=[Depends(_read_access)])


def store_of(request: Request) -> SpanStore:
    runtime: Runtime = request.app.state.runtime
    return runtime.store()


Store = Annotated[SpanStore, Depends(store_of)]
Since = Annotated[
    datetime | None,
    Query(description="window start (ISO 8601 or Unix seconds); default until - 7 days"),
]
Until = Annotated[datetime | None, Query(description="window end; default now")]
WorkflowQ = Annotated[str | None, Query(max_length=500, description="workflow name")]
ServiceQ = Annotated[str | None, Query(max_length=500, description="service.name")]


def window(since: Since = None, until: Until = None) -> queries.Window:
    end = _bounded("until", until) if until else datetime.now(UTC) + timedelta(minutes=5)
    start = _bounded("since", since) if since else max(EARLIEST, end - DEFAULT_WINDOW)
    if start > end:
        raise HTTPException(422, f"since ({start.isoformat()}) is after until ({end.isoformat()})")
    if end - start > MAX_WINDOW:
        raise HTTPException(422, f"window longer than {MAX_WINDOW.days} days; narrow since/until")
    return queries.Window(start.replace(tzinfo=None), end.replace(tzinfo=None))


def _bounded(name: str, value: datetime) -> datetime:
    """The value in UTC, refused (422) outside what DateTime64(9) can hold."""
    try:
        utc = _utc(value)
    except (OverflowError, ValueError):
        utc = EARLIEST - timedelta(days=1)
    if not EARLIEST <= utc <= LATEST:
        raise HTTPException(
            422, f"{name} must be between {EARLIEST.date()} and {LATEST.date()}, got {value}"
        )
    return utc


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


WindowDep = Annotated[queries.Window, Depends(window)]


@router.get("/traces/{trace_id}")
def get_trace(store: Store, trace_id: Annotated[str, Path(pattern=HEX32)]) -> dict[str, Any]:
    """All spans of one trace, oldest first, with events, links, resource and rolled-up cost."""
    trace_id = trace_id.lower()
    spans = queries.get_trace(store, trace_id)
    if not spans:
        raise HTTPException(404, f"trace {trace_id} not found")
    return {"trace_id": trace_id, "spans": spans}


@router.get("/traces/{trace_id}/logs")
def get_trace_logs(
    store: Store,
    trace_id: Annotated[str, Path(pattern=HEX32)],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """The trace's OTLP log records, oldest first (empty when it has none: not a 404)."""
    trace_id = trace_id.lower()
    logs, truncated = queries.trace_logs(store, trace_id, limit)
    return {"trace_id": trace_id, "logs": logs, "truncated": truncated}


@router.get("/traces")
def search_traces(
    store: Store,
    win: WindowDep,
    workflow: WorkflowQ = None,
    service: ServiceQ = None,
    status: Annotated[str | None, Query(pattern="^(?i)(ok|error|unset)$")] = None,
    min_duration_ms: Annotated[float | None, Query(ge=0, le=1e12)] = None,
    trace_id: Annotated[str | None, Query(pattern=HEX32)] = None,
    attr: Annotated[
        list[str] | None,
        Query(max_length=10, description="KEY=VALUE, a span attribute any span of the trace has"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Traces (root spans) newest first, filtered and paginated."""
    pairs = []
    for item in attr or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise HTTPException(422, f"attr must be KEY=VALUE, got {item!r}")
        pairs.append((key, value))
    flt = queries.TraceFilter(
        window=win,
        workflow=workflow,
        service=service,
        status=status.capitalize() if status else None,
        min_duration_ms=min_duration_ms,
        trace_id=trace_id.lower() if trace_id else None,
        attrs=tuple(pairs),
    )
    traces = queries.search_traces(store, flt, limit, offset)
    return {"traces": traces, "limit": limit, "offset": offset}


@router.get("/logs")
def search_logs(
    store: Store,
    win: WindowDep,
    service: ServiceQ = None,
    severity: Annotated[
        str | None,
        Query(
            pattern="^(?i)(trace|debug|info|warn|error|fatal)$",
            description="minimum severity (OpenTelemetry's ranges: warn = 13 and above)",
        ),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=500, description="text in the body (case-insensitive)")
    ] = None,
    trace_id: Annotated[str | None, Query(pattern=HEX32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """OTLP log records of all traces newest first, filtered and paginated (each names its
    trace: the way from a log line to its trace)."""
    flt = queries.LogFilter(
        window=win,
        service=service,
        min_severity=severity.upper() if severity else None,
        text=q,
        trace_id=trace_id.lower() if trace_id else None,
    )
    logs = queries.search_logs(store, flt, limit, offset)
    return {"logs": logs, "limit": limit, "offset": offset}


@router.get("/spans/{trace_id}/{span_id}/io")
def span_io(
    store: Store,
    trace_id: Annotated[str, Path(pattern=HEX32)],
    span_id: Annotated[str, Path(pattern=HEX16)],
) -> dict[str, Any]:
    """A span's recorded inputs and outputs (node inputs/outputs, LLM prompt/completion)."""
    found = queries.span_io(store, trace_id.lower(), span_id.lower())
    if found is None:
        raise HTTPException(404, f"span {span_id} of trace {trace_id} not found")
    return found


@router.get("/stats/nodes")
def node_stats(
    store: Store, win: WindowDep, workflow: WorkflowQ = None, service: ServiceQ = None
) -> dict[str, Any]:
    """Per workflow node: count, errors, latency quantiles, tokens, cost (from the rollup)."""
    return {"nodes": stats.node_stats(store, win, workflow, service)}


@router.get("/stats/workflows")
def workflow_stats(store: Store, win: WindowDep, service: ServiceQ = None) -> dict[str, Any]:
    """Per workflow: runs, errors, latency quantiles, tokens, cost."""
    return {"workflows": stats.workflow_stats(store, win, service)}


@router.get("/stats/models")
def model_stats(
    store: Store, win: WindowDep, workflow: WorkflowQ = None, service: ServiceQ = None
) -> dict[str, Any]:
    """Per provider and model: calls, tokens, cost and where the price came from."""
    return {"models": stats.model_stats(store, win, workflow, service)}


@router.get("/stats/cost_over_time")
def cost_over_time(
    store: Store,
    win: WindowDep,
    bucket: stats.Bucket = "hour",
    group_by: stats.GroupBy = "none",
    workflow: WorkflowQ = None,
    service: ServiceQ = None,
) -> dict[str, Any]:
    """Cost and tokens per time bucket, optionally split by workflow or model."""
    points = stats.cost_over_time(store, win, bucket, group_by, workflow, service)
    return {"bucket": bucket, "group_by": group_by, "points": points}


@router.get("/stats/overview")
def overview(
    request: Request,
    store: Store,
    win: WindowDep,
    workflow: WorkflowQ = None,
    service: ServiceQ = None,
) -> dict[str, Any]:
    """Headline figures: runs, error rate, latency, and sampled / estimated / true usage."""
    return stats.overview(store, win, workflow, service, _pricer(request))


@router.get("/stats/usage")
def usage(
    request: Request,
    store: Store,
    win: WindowDep,
    workflow: WorkflowQ = None,
    service: ServiceQ = None,
) -> dict[str, Any]:
    """Exact token/cost totals from the probe's usage counters (independent of sampling)."""
    return stats.true_usage(store, win, workflow, service, _pricer(request))


def _pricer(request: Request) -> Pricer:
    runtime: Runtime = request.app.state.runtime
    return runtime.writer.pricer
