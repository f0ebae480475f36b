"""Run history over HTTP: the run store's :class:`RunHistory` behind the read API.

Read-only, parameterised (every query is :mod:`workflow_core.store.queries`, no SQL here),
keyset-paginated and protected by the read token like the span endpoints. The run store is
optional: without ``--database-url`` / ``FLOWSCOPE_DATABASE_URL`` every route answers 404
saying how to enable it. ``workflow_core.store`` (SQLAlchemy) is imported on first use only,
so a collector installed without the store extra still starts.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from collector.api.auth import require_bearer
from collector.runtime import Runtime

if TYPE_CHECKING:
    from workflow_core.store.queries import RunHistory

NOT_ENABLED = (
    "run history is not enabled on this collector; start it with "
    "--database-url URL or FLOWSCOPE_DATABASE_URL=URL (the database `flowscope run` writes to, "
    "e.g. sqlite:///.flowscope/runs.db)"
)
_lock = threading.Lock()


def _read_access(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    require_bearer(request, runtime.settings.read_token, "FLOWSCOPE_READ")


router = APIRouter(prefix="/api", tags=["runs"], dependencies=[Depends(_read_access)])


def _open_history(url: str) -> RunHistory:
    try:
        from workflow_core.store.database import create_store_engine
        from workflow_core.store.errors import StoreError
        from workflow_core.store.migrate import ensure_schema, require_schema
        from workflow_core.store.queries import RunHistory
    except ImportError as exc:
        raise HTTPException(
            503, f"run store support is not installed ({exc}); pip install 'flowscope[store]'"
        ) from exc
    try:
        engine = create_store_engine(url)
        if engine.dialect.name == "sqlite":
            ensure_schema(engine)  # SQLite is migrated on first use, like `flowscope run`
        else:
            require_schema(engine)
    except StoreError as exc:
        raise HTTPException(503, f"run store unavailable: {exc}") from exc
    return RunHistory(engine)


def history_of(request: Request) -> RunHistory:
    """The app's :class:`RunHistory`, opened on first use (404 when no database is set)."""
    runtime: Runtime = request.app.state.runtime
    url = runtime.settings.database_url
    if url is None:
        raise HTTPException(404, NOT_ENABLED)
    with _lock:
        history: RunHistory | None = getattr(request.app.state, "run_history", None)
        if history is None:
            history = _open_history(url)
            request.app.state.run_history = history
    return history


History = Annotated["RunHistory", Depends(history_of)]
Name = Annotated[str | None, Query(max_length=500)]
RunId = Annotated[str, Query(min_length=1, max_length=200)]


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store query off the event loop; map store errors to HTTP errors, results to JSON."""
    from sqlalchemy.exc import DBAPIError

    from workflow_core.store.errors import NotFoundError, StoreError
    from workflow_core.store.queries import jsonable

    try:
        return jsonable(await run_in_threadpool(fn, *args, **kwargs))
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except StoreError as exc:  # a bad cursor or limit
        raise HTTPException(422, str(exc)) from exc
    except DBAPIError as exc:  # the database went away: retryable, message without the SQL
        raise HTTPException(503, f"run store unavailable: {exc.orig}") from exc


@router.get("/runs")
async def list_runs(
    history: History,
    workflow: Name = None,
    status: Annotated[str | None, Query(max_length=50)] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 or Unix seconds")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601 or Unix seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Stored workflow runs newest first; pass ``next_cursor`` back as ``cursor``."""
    page = await _call(
        history.list_runs,
        workflow=workflow,
        status=status,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    return {"runs": page["items"], "next_cursor": page["next_cursor"]}


@router.get("/runs/diff")
async def diff_runs(history: History, a: RunId, b: RunId) -> dict[str, Any]:
    """Runs ``a`` and ``b`` node by node: the n-th execution of a node with its n-th, inputs,
    outputs, what changed, and latency/token/cost deltas (``b`` minus ``a``)."""
    diff: dict[str, Any] = await _call(history.diff_runs, a, b)
    for pair in diff["pairs"]:
        pair["deltas"] = _deltas(pair["left"], pair["right"])
    diff["deltas"] = _deltas(diff["left"], diff["right"])
    return diff


@router.get("/runs/{run_id}")
async def get_run(history: History, run_id: str) -> dict[str, Any]:
    """One stored run with its node executions in execution order."""
    detail: dict[str, Any] = await _call(history.get_run, run_id)
    return detail


@router.get("/prompts")
async def prompt_versions(
    history: History,
    workflow: Annotated[str, Query(min_length=1, max_length=500)],
    node_id: Name = None,
) -> dict[str, Any]:
    """Prompt versions of a workflow's llm nodes (by content hash) with runs, tokens and cost."""
    versions = await _call(history.prompt_versions, workflow, node_id)
    return {"versions": versions}


DELTA_FIELDS = ("elapsed_ms", "input_tokens", "output_tokens", "cost_usd")


def _deltas(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """``right - left`` per numeric field; ``None`` when a side or a value is missing."""
    out: dict[str, Any] = {}
    for name in DELTA_FIELDS:
        a = None if left is None else left.get(name)
        b = None if right is None else right.get(name)
        out[name] = None if a is None or b is None else b - a
    return out
