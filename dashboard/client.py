"""Typed HTTP client for the collector's read API (docs/contracts.md, the collector's OpenAPI).

The dashboard never touches the store: chDB is single-process and a server deployment works the
same way. The read token (``FLOWSCOPE_READ_TOKEN``) is sent from this server-side client only; it
never reaches the browser. Responses are validated once here into the models of
:mod:`dashboard.replies`; extra keys the collector adds later are kept, missing contract keys are
an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from dashboard.errors import CollectorResponseError, CollectorUnreachable
from dashboard.replies import (
    CostPage,
    CostPoint,
    LogRecord,
    LogsPage,
    ModelsPage,
    ModelStat,
    NodesPage,
    NodeStat,
    Overview,
    StoredRunDetail,
    StoredRunDiff,
    StoredRunsPage,
    Trace,
    TraceLogs,
    TracesPage,
    TraceSummary,
    WorkflowsPage,
    WorkflowStat,
)

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)

# the Filters fields each endpoint family takes (the others would be ignored or refused)
STATS_FILTERS = ("since", "until", "service", "workflow")
LOGS_FILTERS = ("since", "until", "service")


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
        return self._stats(NodesPage, "nodes", filters).nodes

    def traces(
        self, filters: Filters | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[TraceSummary]:
        path = "/api/traces"
        params: dict[str, str | int] = {**(filters or Filters()).params(), "limit": limit}
        if offset:
            params["offset"] = offset
        return self._parse(TracesPage, path, self._get(path, params)).traces

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
            whose = f"trace {stray[0]}" if stray[0] else "no trace"  # "": made outside a trace
            raise CollectorResponseError(
                f"collector at {self.base_url}: GET {path} broke the read-API contract: "
                f"it answered with log records of {whose}"
            )
        return page

    def logs(
        self,
        filters: Filters | None = None,
        *,
        severity: str | None = None,
        text: str | None = None,
        trace_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[LogRecord] | None:
        """Log records of every trace (and of none: ``trace_id`` ""), newest first, in the
        window and service of ``filters``, at or above ``severity`` (``trace`` ... ``fatal``),
        with ``text`` in the body (case-insensitive); None when the collector answers 404 (it
        predates ``/api/logs``)."""
        path = "/api/logs"
        params: dict[str, str | int] = {**_window(filters, LOGS_FILTERS), "limit": limit}
        if severity:
            params["severity"] = severity.lower()
        if text:
            params["q"] = text
        if trace_id:
            params["trace_id"] = trace_id
        if offset:
            params["offset"] = offset
        body = self._get(path, params, not_found_ok=True)
        return None if body is None else self._parse(LogsPage, path, body).logs

    def _stats(self, model: type[_M], name: str, filters: Filters | None, **extra: str) -> _M:
        path = f"/api/stats/{name}"
        params = {**_window(filters, STATS_FILTERS), **extra}
        return self._parse(model, path, self._get(path, params))

    def overview(self, filters: Filters | None = None) -> Overview:
        return self._stats(Overview, "overview", filters)

    def workflow_stats(self, filters: Filters | None = None) -> list[WorkflowStat]:
        return self._stats(WorkflowsPage, "workflows", filters).workflows

    def model_stats(self, filters: Filters | None = None) -> list[ModelStat]:
        return self._stats(ModelsPage, "models", filters).models

    def cost_over_time(
        self, filters: Filters | None = None, *, bucket: str = "hour", group_by: str = "workflow"
    ) -> list[CostPoint]:
        return self._stats(
            CostPage, "cost_over_time", filters, bucket=bucket, group_by=group_by
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


def _window(filters: Filters | None, names: tuple[str, ...]) -> dict[str, str]:
    """The query parameters of ``filters`` that an endpoint takes (``names``), when set."""
    params = (filters or Filters()).params()
    return {k: v for k, v in params.items() if k in names}
