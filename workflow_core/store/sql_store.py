"""``SqlRunStore``: the run store on SQLAlchemy — a run listener and a conversation store.

Wiring it into a runner (what ``flowscope run`` does when the store is on)::

    store = SqlRunStore.open()          # FLOWSCOPE_DATABASE_URL or .flowscope/runs.db
    store.register_app(app)             # DSL version + llm prompt versions
    runner = WorkflowRunner(app, listeners=[store], conversation_store=store)

Every write is one short transaction. A node execution is a single ``INSERT`` (run totals are
computed when the run finishes, never incremented per node), so parallel branches writing at
once take no lock on a shared row and cannot deadlock; a deadlock or lock timeout the database
reports anyway is retried and counted in :attr:`SqlRunStore.retries`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from workflow_core.conversation import ConversationState
from workflow_core.dsl import DifyApp
from workflow_core.events import NodeFinished, RunFinished, RunStarted
from workflow_core.store import migrate
from workflow_core.store.base import AppVersion
from workflow_core.store.conversations import state_document, state_from_document
from workflow_core.store.cost import llm_call_cost
from workflow_core.store.database import SQLITE_BEGIN_OPTION, create_store_engine, describe
from workflow_core.store.errors import StoreError
from workflow_core.store.models import Conversation, NodeExecution, PromptVersion, WorkflowRun
from workflow_core.store.payload import PayloadPolicy
from workflow_core.store.portable import is_retryable, upsert
from workflow_core.store.redaction import Redactor
from workflow_core.store.settings import StoreSettings
from workflow_core.store.types import utcnow
from workflow_core.store.versions import content_hash, record_app, table_of

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 6


@dataclass
class _RunTrack:
    """A run between its start and finish events: its app and its node counter."""

    version: AppVersion | None
    sequence: int = 0


def _ts(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


class SqlRunStore:
    """Keeps every run, node execution, DSL version, prompt version and conversation."""

    def __init__(self, engine: Engine, *, policy: PayloadPolicy | None = None) -> None:
        self.engine = engine
        self.policy = policy or PayloadPolicy(Redactor(), StoreSettings.load({}).max_payload_bytes)
        self.retries = 0
        self._writer = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._apps: dict[str, AppVersion] = {}
        self._runs: dict[str, _RunTrack] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        settings: StoreSettings | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> SqlRunStore:
        """Connect (and on SQLite migrate) the store configured by ``url`` / the environment."""
        settings = settings or StoreSettings.load(environ, database_url=url)
        engine = create_store_engine(settings.database_url)
        try:
            if settings.migrates_itself:
                migrate.ensure_schema(engine)
            else:
                migrate.require_schema(engine)
        except Exception:
            engine.dispose()
            raise
        redactor = Redactor(settings.redact_patterns)
        return cls(engine, policy=PayloadPolicy(redactor, settings.max_payload_bytes))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SqlRunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ---------------------------------------------------------------------------
    def _write(self, what: str, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one transaction, retrying what the database aborted (deadlocks)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self._writer.begin() as connection:
                    return fn(connection)
            except DBAPIError as exc:
                if attempt < MAX_ATTEMPTS and is_retryable(exc):
                    with self._lock:
                        self.retries += 1
                    logger.warning("run store: %s retried (attempt %d): %s", what, attempt, exc)
                    time.sleep(0.01 * 2**attempt)
                    continue
                raise StoreError(
                    f"run store ({describe(self.engine)}): {what} failed: {exc}"
                ) from exc
            except SQLAlchemyError as exc:
                raise StoreError(
                    f"run store ({describe(self.engine)}): {what} failed: {exc}"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def register_app(self, app: DifyApp) -> AppVersion:
        """Record ``app``'s DSL version (by content hash) and its llm nodes' prompt versions."""
        dsl = app.model_dump(mode="json", exclude={"source"})
        digest = content_hash(dsl)
        now = utcnow()

        def write(connection: Connection) -> AppVersion:
            return record_app(connection, app, dsl, digest, self.policy.redactor, now)

        version = self._write(f"registering workflow {app.name!r}", write)
        with self._lock:
            self._apps[app.app_id] = version
        return version

    # -- RunListener ----------------------------------------------------------------------
    def on_run_start(self, event: RunStarted) -> None:
        version = self._apps.get(event.app_id)
        started = _ts(event.started_at)
        row = {
            "id": event.run_id,
            "workflow_id": version.workflow_id if version else None,
            "workflow_name": event.app_name,
            "app_id": event.app_id,
            "mode": event.mode,
            "status": "running",
            "conversation_id": event.conversation_id,
            "query": self.policy.text(event.query),
            "inputs": self.policy.document(event.inputs),
            "started_at": started,
        }

        def write(connection: Connection) -> None:
            connection.execute(insert(WorkflowRun).values(row))
            if version and version.prompt_versions:
                connection.execute(
                    update(PromptVersion)
                    .where(PromptVersion.id.in_(sorted(version.prompt_versions.values())))
                    .values(last_seen_at=started)
                )

        with self._lock:
            self._runs[event.run_id] = _RunTrack(version)
        self._write(f"run {event.run_id} start", write)

    def on_node_finish(self, event: NodeFinished) -> None:
        with self._lock:
            track = self._runs.get(event.run_id)
            if track is None:
                raise StoreError(
                    f"run store: node {event.node_id} ({event.node_type}) finished in run "
                    f"{event.run_id}, whose start this store never saw"
                )
            track.sequence += 1
            sequence = track.sequence
        row = self._node_row(event, sequence, track.version)

        def write(connection: Connection) -> None:
            connection.execute(insert(NodeExecution).values(row))

        self._write(f"run {event.run_id} node {event.node_id}", write)

    def _node_row(
        self, event: NodeFinished, sequence: int, version: AppVersion | None
    ) -> dict[str, Any]:
        calls = event.llm_calls
        costs = [
            llm_call_cost(
                c.provider,
                c.model,
                c.usage.input_tokens,
                c.usage.output_tokens,
                c.usage.cached_input_tokens,
            )
            for c in calls
        ]
        return {
            "run_id": event.run_id,
            "node_id": event.node_id,
            "node_type": event.node_type,
            "title": event.title,
            "status": event.status,
            "sequence": sequence,
            "scope": event.scope,
            "attempts": event.attempts,
            "inputs": self.policy.document(event.inputs),
            "outputs": self.policy.document(event.outputs),
            "error": self.policy.text(event.error),
            "started_at": _ts(event.started_at),
            "finished_at": _ts(event.finished_at),
            "elapsed_ms": (event.finished_at - event.started_at) * 1000.0,
            "model": calls[-1].model if calls else None,
            "input_tokens": event.usage.input_tokens,
            "output_tokens": event.usage.output_tokens,
            "cost_usd": _total_cost(costs) if calls else None,
            "prompt_version_id": version.prompt_versions.get(event.node_id) if version else None,
        }

    def on_run_finish(self, event: RunFinished) -> None:
        def write(connection: Connection) -> None:
            count, cost, priced = connection.execute(
                select(
                    func.count(NodeExecution.id),
                    func.sum(NodeExecution.cost_usd),
                    func.count(NodeExecution.cost_usd),
                ).where(NodeExecution.run_id == event.run_id)
            ).one()
            result = connection.execute(
                update(WorkflowRun)
                .where(WorkflowRun.id == event.run_id)
                .values(
                    status=event.status,
                    outputs=self.policy.document(event.outputs),
                    error=self.policy.text(event.error),
                    finished_at=_ts(event.finished_at),
                    elapsed_ms=(event.finished_at - event.started_at) * 1000.0,
                    node_count=count,
                    input_tokens=event.usage.input_tokens,
                    output_tokens=event.usage.output_tokens,
                    cost_usd=cost if priced else None,
                    conversation_id=event.conversation_id,
                )
            )
            if result.rowcount != 1:
                raise StoreError(f"run store: run {event.run_id} finished but was never started")

        try:
            self._write(f"run {event.run_id} finish", write)
        finally:
            with self._lock:
                self._runs.pop(event.run_id, None)

    def link_trigger_event(self, run_id: str, event_id: str) -> None:
        """Record that run ``run_id`` was started by trigger event ``event_id``."""

        def write(connection: Connection) -> None:
            connection.execute(
                update(WorkflowRun)
                .where(WorkflowRun.id == run_id)
                .values(trigger_event_id=event_id)
            )

        self._write(f"linking run {run_id} to trigger event {event_id}", write)

    # -- ConversationStore ----------------------------------------------------------------
    def load(self, app_id: str, conversation_id: str) -> ConversationState | None:
        """Chat state of a conversation, ``None`` when it has no turn yet."""
        try:
            with self.engine.connect() as connection:
                state = connection.execute(
                    select(Conversation.state).where(
                        Conversation.app_id == app_id, Conversation.id == conversation_id
                    )
                ).scalar_one_or_none()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"run store: loading conversation {conversation_id} failed: {exc}"
            ) from exc
        return None if state is None else state_from_document(state, app_id, conversation_id)

    def save(self, app_id: str, conversation_id: str, state: ConversationState) -> None:
        """Replace a conversation's chat state (kept verbatim: it is the engine's memory; only
        characters no database can hold are replaced, see ``payload.storable``)."""
        now = utcnow()
        values = {
            "app_id": app_id,
            "id": conversation_id,
            "state": state_document(state),
            "turns": len(state.turns),
            "created_at": now,
            "updated_at": now,
        }

        def write(connection: Connection) -> None:
            connection.execute(
                upsert(
                    connection.dialect.name,
                    table_of(Conversation),
                    values,
                    key=["app_id", "id"],
                    overwrite=["state", "turns", "updated_at"],
                )
            )

        self._write(f"saving conversation {conversation_id}", write)


def _total_cost(costs: list[Decimal | None]) -> Decimal | None:
    """The sum, or ``None`` when one call could not be priced (unknown beats wrong)."""
    known = [c for c in costs if c is not None]
    return sum(known, Decimal(0)) if len(known) == len(costs) else None


def open_for_app(
    app: DifyApp, *, environ: Mapping[str, str] | None = None, url: str | None = None
) -> SqlRunStore:
    """The store configured by ``url`` / ``FLOWSCOPE_DATABASE_URL``, with ``app`` registered.

    ``flowscope run`` wiring, in ``workflow_core.services.build_runner``::

        store = open_for_app(app, environ=env)
        WorkflowRunner(app, ..., listeners=[*listeners, store], conversation_store=store)
    """
    store = SqlRunStore.open(url, environ=environ)
    try:
        store.register_app(app)
    except Exception:
        store.close()
        raise
    return store
