"""Typed HTTP client for the collector's read API (docs/contracts.md, the collector's OpenAPI).

The dashboard never touches the store: chDB is single-process and a server deployment works the
same way. The read token (``FLOWSCOPE_READ_TOKEN``) is sent from this server-side client only; it
never reaches the browser. Responses are validated once here into pydantic models; extra keys
the collector adds later are kept (``extra="allow"``), missing contract keys are an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dashboard.errors import CollectorResponseError, CollectorUnreachable

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)

HEX32 = r"^[0-9a-fA-F]{32}$"
# OpenTelemetry's short severity names, four severity numbers each (1-4 TRACE ... 21-24 FATAL)
SEVERITY_NAMES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class NodeStat(_Model):
    """One row of ``GET /api/stats/nodes`` (contract keys plus optional extensions)."""

    workflow: str
    node_id: str
    node_type: str
    title: str
    count: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None = None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    sampled_spans: int | None = None


class TraceSummary(_Model):
    """One row of ``GET /api/traces`` (newest first)."""

    trace_id: str
    workflow: str
    start_time_unix_nano: int
    duration_ns: int
    status_code: str
    cost_usd: float
    service_name: str | None = None
    span_count: int | None = None


class SpanEvent(_Model):
    name: str
    time_unix_nano: int | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class Span(_Model):
    """One span of ``GET /api/traces/{trace_id}``; attribute values may arrive as strings."""

    span_id: str
    parent_span_id: str
    name: str
    start_time_unix_nano: int
    duration_ns: int
    status_code: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    status_message: str | None = None
    service_name: str | None = None
    cost_usd: float | None = None
    events: list[SpanEvent] = Field(default_factory=list)

    def attr(self, name: str, default: str = "") -> str:
        value = self.attributes.get(name)
        return default if value is None else str(value)

    def int_attr(self, name: str) -> int:
        try:
            return int(float(self.attr(name, "0") or 0))
        except ValueError:
            return 0

    def float_attr(self, name: str) -> float:
        try:
            return float(self.attr(name, "0") or 0)
        except ValueError:
            return 0.0

    @property
    def kind(self) -> str:
        return self.attr("flowscope.span.kind")

    @property
    def is_error(self) -> bool:
        return self.status_code.upper() in ("ERROR", "STATUS_CODE_ERROR", "2")

    @property
    def cost(self) -> float:
        """The stored cost (collector-computed) when present, else the provided attribute."""
        if self.cost_usd is not None:
            return self.cost_usd
        return self.float_attr("flowscope.cost.usd")


class Trace(_Model):
    trace_id: str
    spans: list[Span]


class LogScope(_Model):
    name: str
    version: str


class LogRecord(_Model):
    """One record of ``GET /api/traces/{trace_id}/logs`` (the OTLP log data model, flattened)."""

    time_unix_nano: int
    observed_time_unix_nano: int
    trace_id: str = Field(pattern=HEX32)
    span_id: str = Field(pattern=r"^([0-9a-fA-F]{16})?$")  # "" for a record made outside a span
    trace_flags: int
    severity_text: str
    severity_number: int  # OTel's 1..24, 0 when unset (the collector stores 0 for others)
    body: str
    attributes: dict[str, str]
    service_name: str
    resource: dict[str, str]
    scope: LogScope

    @property
    def severity(self) -> str:
        """The record's severity text, else the short name of its number ("" when unset)."""
        return self.severity_text or self._number_name()

    @property
    def level(self) -> str:
        """``TRACE`` ... ``FATAL`` from the number, else from the text (numbers may be unset)."""
        if name := self._number_name():
            return name
        text = self.severity_text.upper()
        return {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(text, text)

    def _number_name(self) -> str:
        n = self.severity_number
        return SEVERITY_NAMES[(n - 1) // 4] if 1 <= n <= 24 else ""


class TraceLogs(_Model):
    """``GET /api/traces/{trace_id}/logs``: the trace's log records, oldest first;
    ``truncated`` when the collector holds more than were asked for."""

    trace_id: str = Field(pattern=HEX32)
    logs: list[LogRecord]
    truncated: bool


class Overview(_Model):
    """``GET /api/stats/overview``: headline figures; ``true_*`` are None without usage metrics."""

    runs: int
    sampled_runs: int
    errors: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    spans: int
    sampled_cost_usd: float
    sampled_input_tokens: int
    sampled_output_tokens: int
    estimated_cost_usd: float
    estimated_input_tokens: int
    estimated_output_tokens: int
    true_cost_usd: float | None = None
    true_input_tokens: int | None = None
    true_output_tokens: int | None = None
    true_calls: int | None = None
    total_cost_usd: float
    total_tokens: int


class WorkflowStat(_Model):
    workflow: str
    runs: int
    errors: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    last_run: str | None = None


class ModelStat(_Model):
    provider: str
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cost_usd: float
    price_source: str = ""
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None


class CostPoint(_Model):
    bucket_start: str
    group: str
    cost_usd: float
    input_tokens: int
    output_tokens: int
    calls: int


class StoredRun(_Model):
    """One workflow run kept by the run store (``GET /api/runs``)."""

    id: str
    workflow_name: str
    mode: str
    status: str
    started_at: str
    finished_at: str | None = None
    elapsed_ms: float | None = None
    node_count: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = None


class StoredNode(_Model):
    """One node execution of a stored run."""

    node_id: str
    node_type: str
    title: str
    status: str
    inputs: Any = None
    outputs: Any = None
    error: str | None = None
    elapsed_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None


class StoredRunDetail(_Model):
    """``GET /api/runs/{run_id}``: the run, its inputs/outputs and its node executions."""

    run: StoredRun
    inputs: Any = None
    outputs: Any = None
    error: str | None = None
    nodes: list[StoredNode]


class StoredNodePair(_Model):
    """The ``occurrence``-th execution of a node in run A (``left``) and run B (``right``)."""

    node_id: str
    occurrence: int
    left: StoredNode | None
    right: StoredNode | None
    changed: list[str]
    deltas: dict[str, float | None]


class StoredRunDiff(_Model):
    """``GET /api/runs/diff``: two stored runs node by node, deltas are B - A."""

    left: StoredRun
    right: StoredRun
    pairs: list[StoredNodePair]
    deltas: dict[str, float | None]


class StoredRunsPage(_Model):
    runs: list[StoredRun]
    next_cursor: str | None


class _WorkflowsPage(_Model):
    workflows: list[WorkflowStat]


class _ModelsPage(_Model):
    models: list[ModelStat]


class _CostPage(_Model):
    points: list[CostPoint]


class _NodesPage(_Model):
    nodes: list[NodeStat]


class _TracesPage(_Model):
    traces: list[TraceSummary]


@dataclass(frozen=True)
class Filters:
    """Query parameters shared by the read API's list and stats endpoints (None = no filter)."""

    since: str | None = None
    until: str | None = None
    service: str | None = None
    workflow: str | None = None
    status: str | None = None
    min_duration_ms: float | None = None
    attr: str | None = None

    def params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in (None, ""):
                out[f.name] = str(value)
        return out


class CollectorClient:
    """Synchronous client; one per dashboard process (httpx keeps the connection pool)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def _get(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        not_found_ok: bool = False,
    ) -> Any:
        try:
            response = self._http.get(path, params=dict(params or {}))
        except httpx.HTTPError as exc:
            raise CollectorUnreachable(
                f"collector at {self.base_url} did not answer GET {path}: {exc}; start it with "
                "`flowscope collector` or point the dashboard at it with --collector / "
                "FLOWSCOPE_COLLECTOR_URL"
            ) from exc
        if response.status_code in (401, 403):
            raise CollectorResponseError(
                f"collector at {self.base_url} refused GET {path} ({response.status_code}); "
                "set FLOWSCOPE_READ_TOKEN to the collector's read token"
            )
        if response.status_code == 404 and not_found_ok:
            return None
        if response.status_code >= 400:
            raise CollectorResponseError(
                f"collector at {self.base_url}: GET {path} answered {response.status_code}: "
                f"{response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise CollectorResponseError(
                f"collector at {self.base_url}: GET {path} did not return JSON: {exc}"
            ) from exc

    def _parse(self, model: type[_M], path: str, body: Any) -> _M:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise CollectorResponseError(
                f"collector at {self.base_url}: GET {path} broke the read-API contract: {exc}"
            ) from exc

    def healthy(self) -> bool:
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def node_stats(self, filters: Filters | None = None) -> list[NodeStat]:
        return self._stats(_NodesPage, "nodes", filters).nodes

    def traces(
        self, filters: Filters | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[TraceSummary]:
        path = "/api/traces"
        params: dict[str, str | int] = {**(filters or Filters()).params(), "limit": limit}
        if offset:
            params["offset"] = offset
        return self._parse(_TracesPage, path, self._get(path, params)).traces

    def trace(self, trace_id: str) -> Trace | None:
        """One trace with all its spans, or None when the store does not hold it."""
        path = f"/api/traces/{trace_id}"
        body = self._get(path, not_found_ok=True)
        return None if body is None else self._parse(Trace, path, body)

    def trace_logs(self, trace_id: str, *, limit: int = 1000) -> TraceLogs | None:
        """The trace's log records, oldest first (at most ``limit``, 1 to 10,000); an empty list
        when it has none; None when the collector has no log store (it answers 404: it predates
        ``/api/traces/{trace_id}/logs``)."""
        path = f"/api/traces/{trace_id}/logs"
        body = self._get(path, {"limit": limit}, not_found_ok=True)
        if body is None:
            return None
        page = self._parse(TraceLogs, path, body)
        ids = [page.trace_id, *(r.trace_id for r in page.logs)]
        if stray := [t for t in ids if t.lower() != trace_id.lower()]:
            raise CollectorResponseError(
                f"collector at {self.base_url}: GET {path} broke the read-API contract: "
                f"it answered with log records of trace {stray[0]}"
            )
        return page

    def _stats(self, model: type[_M], name: str, filters: Filters | None, **extra: str) -> _M:
        path = f"/api/stats/{name}"
        return self._parse(model, path, self._get(path, {**_window(filters), **extra}))

    def overview(self, filters: Filters | None = None) -> Overview:
        return self._stats(Overview, "overview", filters)

    def workflow_stats(self, filters: Filters | None = None) -> list[WorkflowStat]:
        return self._stats(_WorkflowsPage, "workflows", filters).workflows

    def model_stats(self, filters: Filters | None = None) -> list[ModelStat]:
        return self._stats(_ModelsPage, "models", filters).models

    def cost_over_time(
        self, filters: Filters | None = None, *, bucket: str = "hour", group_by: str = "workflow"
    ) -> list[CostPoint]:
        return self._stats(
            _CostPage, "cost_over_time", filters, bucket=bucket, group_by=group_by
        ).points

    def stored_runs(
        self, *, workflow: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> StoredRunsPage | None:
        """Runs kept by the run store, newest first; None when the collector has no run store
        (started without --database-url / FLOWSCOPE_DATABASE_URL)."""
        path = "/api/runs"
        params: dict[str, str | int] = {"limit": limit}
        if workflow:
            params["workflow"] = workflow
        if cursor:
            params["cursor"] = cursor
        body = self._get(path, params, not_found_ok=True)
        return None if body is None else self._parse(StoredRunsPage, path, body)

    def stored_run(self, run_id: str) -> StoredRunDetail | None:
        path = f"/api/runs/{run_id}"
        body = self._get(path, not_found_ok=True)
        return None if body is None else self._parse(StoredRunDetail, path, body)

    def stored_run_diff(self, a: str, b: str) -> StoredRunDiff | None:
        """Stored runs ``a`` and ``b`` node by node; None when either is not in the store."""
        path = "/api/runs/diff"
        body = self._get(path, {"a": a, "b": b}, not_found_ok=True)
        return None if body is None else self._parse(StoredRunDiff, path, body)


def _window(filters: Filters | None) -> dict[str, str]:
    """The stats endpoints take the window, service and workflow filters only."""
    params = (filters or Filters()).params()
    return {k: v for k, v in params.items() if k in ("since", "until", "service", "workflow")}
