"""The read API's replies as pydantic models (docs/contracts.md, the collector's OpenAPI).

Validated once, in :mod:`dashboard.client`; extra keys the collector adds later are kept
(``extra="allow"``), missing contract keys are an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HEX32 = r"^[0-9a-fA-F]{32}$"
HEX32_OR_EMPTY = r"^([0-9a-fA-F]{32})?$"
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
    """One record of ``GET /api/traces/{trace_id}/logs`` or ``GET /api/logs`` (the OTLP log data
    model, flattened)."""

    time_unix_nano: int
    observed_time_unix_nano: int
    trace_id: str = Field(pattern=HEX32_OR_EMPTY)  # "" for a record made outside any trace
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


class LogsPage(_Model):
    """``GET /api/logs``: log records of every trace (and of none), newest first."""

    logs: list[LogRecord]
    limit: int
    offset: int


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


class WorkflowsPage(_Model):
    workflows: list[WorkflowStat]


class ModelsPage(_Model):
    models: list[ModelStat]


class CostPage(_Model):
    points: list[CostPoint]


class NodesPage(_Model):
    nodes: list[NodeStat]


class TracesPage(_Model):
    traces: list[TraceSummary]
