"""Read side of the run store: run history, one run, run diffs, prompt versions, trends.

This is the one read path for run-history data; the collector's HTTP layer (or any other
caller) wraps :class:`RunHistory` and maps :class:`~workflow_core.store.errors.NotFoundError`
to 404. Every result is a frozen dataclass of plain values (JSON-ready with ``asdict``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, RowMapping, case, func, select

from workflow_core.store.errors import NotFoundError
from workflow_core.store.models import NodeExecution, PromptVersion, WorkflowRun
from workflow_core.store.portable import Page, date_trunc, json_text, keyset_page, page_of

RUN_SUMMARY_COLUMNS = (
    WorkflowRun.id,
    WorkflowRun.workflow_name,
    WorkflowRun.app_id,
    WorkflowRun.mode,
    WorkflowRun.status,
    WorkflowRun.conversation_id,
    WorkflowRun.trigger_event_id,
    WorkflowRun.started_at,
    WorkflowRun.finished_at,
    WorkflowRun.elapsed_ms,
    WorkflowRun.node_count,
    WorkflowRun.input_tokens,
    WorkflowRun.output_tokens,
    WorkflowRun.cost_usd,
)
NODE_COLUMNS = tuple(c for c in NodeExecution.__table__.c if c.key != "run_id")
DIFF_FIELDS = ("status", "outputs", "error", "model", "prompt_version_id")


@dataclass(frozen=True)
class RunSummary:
    id: str
    workflow_name: str
    app_id: str | None
    mode: str
    status: str
    conversation_id: str | None
    trigger_event_id: str | None
    started_at: datetime
    finished_at: datetime | None
    elapsed_ms: float | None
    node_count: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None


@dataclass(frozen=True)
class NodeExecutionRecord:
    id: int
    node_id: str
    node_type: str
    title: str
    status: str
    sequence: int
    scope: str | None
    attempts: int
    inputs: Any
    outputs: Any
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    elapsed_ms: float | None
    model: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    prompt_version_id: int | None


@dataclass(frozen=True)
class RunDetail:
    run: RunSummary
    query: str | None
    inputs: Any
    outputs: Any
    error: str | None
    nodes: list[NodeExecutionRecord]


@dataclass(frozen=True)
class NodePair:
    """The ``occurrence``-th execution of ``node_id`` in each run (``None`` if it has none)."""

    node_id: str
    occurrence: int
    left: NodeExecutionRecord | None
    right: NodeExecutionRecord | None
    changed: tuple[str, ...]  # DIFF_FIELDS that differ; ("missing",) when one side is absent


@dataclass(frozen=True)
class RunDiff:
    left: RunSummary
    right: RunSummary
    pairs: list[NodePair]


@dataclass(frozen=True)
class PromptVersionStats:
    id: int
    workflow_name: str
    node_id: str
    content_hash: str
    model: str | None
    template: Any
    first_seen_at: datetime
    last_seen_at: datetime
    runs: int
    executions: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    avg_elapsed_ms: float | None


@dataclass(frozen=True)
class RunBucket:
    bucket: datetime
    runs: int
    failed: int
    cost_usd: Decimal | None


class RunHistory:
    """Typed read queries over the run store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        inputs: Mapping[str, str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[RunSummary]:
        """Runs newest first, filtered; pass ``next_cursor`` back for the following page.

        ``inputs`` keeps runs whose input variables have these values (compared as text).
        """
        stmt = select(*RUN_SUMMARY_COLUMNS)
        for name, value in (inputs or {}).items():
            stmt = stmt.where(json_text(WorkflowRun.inputs, name) == value)
        if workflow is not None:
            stmt = stmt.where(WorkflowRun.workflow_name == workflow)
        if status is not None:
            stmt = stmt.where(WorkflowRun.status == status)
        if since is not None:
            stmt = stmt.where(WorkflowRun.started_at >= since)
        if until is not None:
            stmt = stmt.where(WorkflowRun.started_at < until)
        stmt = keyset_page(stmt, WorkflowRun.started_at, WorkflowRun.id, limit=limit, cursor=cursor)
        with self.engine.connect() as connection:
            rows = connection.execute(stmt).mappings().all()
        page = page_of(rows, limit, lambda r: (r["started_at"], r["id"]))
        return Page([RunSummary(**r) for r in page.items], page.next_cursor)

    def get_run(self, run_id: str) -> RunDetail:
        """One run with its node executions in the order they finished."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(
                    select(
                        *RUN_SUMMARY_COLUMNS,
                        WorkflowRun.query,
                        WorkflowRun.inputs,
                        WorkflowRun.outputs,
                        WorkflowRun.error,
                    ).where(WorkflowRun.id == run_id)
                )
                .mappings()
                .one_or_none()
            )
            if row is None:
                raise NotFoundError(f"run {run_id!r} is not in the run store")
            nodes = connection.execute(
                select(*NODE_COLUMNS)
                .where(NodeExecution.run_id == run_id)
                .order_by(NodeExecution.sequence, NodeExecution.id)
            ).mappings()
            records = [NodeExecutionRecord(**n) for n in nodes]
        summary = RunSummary(**{c.key: row[c.key] for c in RUN_SUMMARY_COLUMNS})
        return RunDetail(
            summary, row["query"], row["inputs"], row["outputs"], row["error"], records
        )

    def diff_runs(self, left_id: str, right_id: str) -> RunDiff:
        """Pair two runs' node executions node by node (n-th execution with n-th execution)."""
        left, right = self.get_run(left_id), self.get_run(right_id)
        left_by_key, right_by_key = _by_occurrence(left.nodes), _by_occurrence(right.nodes)
        keys = list(left_by_key) + [k for k in right_by_key if k not in left_by_key]
        pairs = []
        for key in keys:
            a, b = left_by_key.get(key), right_by_key.get(key)
            if a is None or b is None:
                changed: tuple[str, ...] = ("missing",)
            else:
                changed = tuple(f for f in DIFF_FIELDS if getattr(a, f) != getattr(b, f))
            pairs.append(NodePair(key[0], key[1], a, b, changed))
        return RunDiff(left.run, right.run, pairs)

    def prompt_versions(
        self, workflow: str, node_id: str | None = None
    ) -> list[PromptVersionStats]:
        """Each prompt version of a workflow's llm nodes with the runs, tokens and cost it saw."""
        usage = (
            select(
                NodeExecution.prompt_version_id.label("pv"),
                func.count(func.distinct(NodeExecution.run_id)).label("runs"),
                func.count(NodeExecution.id).label("executions"),
                func.coalesce(func.sum(NodeExecution.input_tokens), 0).label("input_tokens"),
                func.coalesce(func.sum(NodeExecution.output_tokens), 0).label("output_tokens"),
                func.sum(NodeExecution.cost_usd).label("cost_usd"),
                func.avg(NodeExecution.elapsed_ms).label("avg_elapsed_ms"),
            )
            .where(NodeExecution.prompt_version_id.is_not(None))
            .group_by(NodeExecution.prompt_version_id)
            .subquery()
        )
        stmt = (
            select(
                PromptVersion.id,
                PromptVersion.workflow_name,
                PromptVersion.node_id,
                PromptVersion.content_hash,
                PromptVersion.model,
                PromptVersion.template,
                PromptVersion.first_seen_at,
                PromptVersion.last_seen_at,
                func.coalesce(usage.c.runs, 0).label("runs"),
                func.coalesce(usage.c.executions, 0).label("executions"),
                func.coalesce(usage.c.input_tokens, 0).label("input_tokens"),
                func.coalesce(usage.c.output_tokens, 0).label("output_tokens"),
                usage.c.cost_usd,
                usage.c.avg_elapsed_ms,
            )
            .outerjoin(usage, usage.c.pv == PromptVersion.id)
            .where(PromptVersion.workflow_name == workflow)
            .order_by(PromptVersion.node_id, PromptVersion.first_seen_at, PromptVersion.id)
        )
        if node_id is not None:
            stmt = stmt.where(PromptVersion.node_id == node_id)
        with self.engine.connect() as connection:
            rows = connection.execute(stmt).mappings().all()
        return [_prompt_stats(r) for r in rows]

    def runs_over_time(
        self, unit: str = "hour", *, workflow: str | None = None, since: datetime | None = None
    ) -> list[RunBucket]:
        """Runs, failures and cost per ``unit`` bucket (minute, hour, day, week, month)."""
        bucket = date_trunc(unit, WorkflowRun.started_at)
        stmt = select(
            bucket.label("bucket"),
            func.count(WorkflowRun.id).label("runs"),
            func.sum(case((WorkflowRun.status == "failed", 1), else_=0)).label("failed"),
            func.sum(WorkflowRun.cost_usd).label("cost_usd"),
        )
        if workflow is not None:
            stmt = stmt.where(WorkflowRun.workflow_name == workflow)
        if since is not None:
            stmt = stmt.where(WorkflowRun.started_at >= since)
        stmt = stmt.group_by(bucket).order_by(bucket)
        with self.engine.connect() as connection:
            rows = connection.execute(stmt).all()
        return [
            RunBucket(r.bucket, int(r.runs), int(r.failed or 0), _decimal(r.cost_usd)) for r in rows
        ]


def _by_occurrence(
    nodes: list[NodeExecutionRecord],
) -> dict[tuple[str, int], NodeExecutionRecord]:
    seen: dict[str, int] = defaultdict(int)
    keyed = {}
    for node in nodes:
        seen[node.node_id] += 1
        keyed[(node.node_id, seen[node.node_id])] = node
    return keyed


def _prompt_stats(r: RowMapping) -> PromptVersionStats:
    avg = r["avg_elapsed_ms"]
    return PromptVersionStats(
        id=r["id"],
        workflow_name=r["workflow_name"],
        node_id=r["node_id"],
        content_hash=r["content_hash"],
        model=r["model"],
        template=r["template"],
        first_seen_at=r["first_seen_at"],
        last_seen_at=r["last_seen_at"],
        runs=int(r["runs"]),
        executions=int(r["executions"]),
        input_tokens=int(r["input_tokens"]),
        output_tokens=int(r["output_tokens"]),
        cost_usd=_decimal(r["cost_usd"]),
        avg_elapsed_ms=None if avg is None else float(avg),
    )


def _decimal(value: Any) -> Decimal | None:
    """Sums come back as Decimal (servers) or float (SQLite): one type for callers."""
    return None if value is None else Decimal(str(value))


def jsonable(value: Any) -> Any:
    """Any result of :class:`RunHistory` as JSON data: dataclasses as objects, datetimes as
    ISO 8601 (UTC), Decimals as numbers — what an HTTP layer returns as is."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
