"""The graph runner: schedules nodes by the join rule, applies retries and error strategies.

``WorkflowRunner.run`` and ``WorkflowRunner.execute_node`` are the probe's targets
(docs/contracts.md): keep their names and signatures.

Scheduling (SPEC §5): a scope (the top-level graph or a container's child graph) is run in
*waves*. Every node that is ready at the same time forms a wave; with ``max_workers > 1`` the
nodes of a wave run concurrently on a bounded thread pool (each submitted with
``contextvars.copy_context().run``), then their results are committed in FIFO order (outputs
written, answers emitted, outgoing edges marked). Committing in FIFO order makes outputs, the
answer order and the node order identical to the sequential FIFO scheduler of SPEC §5.4, which is
what ``max_workers=1`` runs.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from workflow_core.context import AnswerSink, RunContext, Services
from workflow_core.conversation import (
    ConversationState,
    ConversationStore,
    Turn,
    declared_value,
)
from workflow_core.dsl import DifyApp, NodeSpec
from workflow_core.errors import FlowscopeError, NodeError, RunLimitError
from workflow_core.events import NodeFinished, RunFinished, RunListener, RunStarted
from workflow_core.graph import TOP, AppGraph
from workflow_core.nodes.base import Node, NodeOutcome
from workflow_core.nodes.start import StartNode
from workflow_core.results import NodeResult, RunResult
from workflow_core.scheduler import ScopeSchedule, split_batches, state_writers
from workflow_core.settings import RunSettings
from workflow_core.strategies import apply_error_strategy
from workflow_core.timeouts import call_with_timeout
from workflow_core.validation import validate_app
from workflow_core.variables import VariablePool

logger = logging.getLogger(__name__)

T = TypeVar("T")
_BRANCH_TYPES = frozenset({"if-else", "question-classifier"})

__all__ = ["NodeResult", "RunResult", "RunSettings", "WorkflowRunner"]


class _RunFailed(Exception):
    def __init__(self, result: NodeResult) -> None:
        super().__init__(result.error)
        self.result = result


@dataclass
class _RunState:
    """Mutable bookkeeping shared by every scope of one run."""

    deadline: float
    max_steps: int
    started_at: float = 0.0
    query: str | None = None
    conversation_id: str | None = None
    conversation: ConversationState | None = None
    steps: int = 0
    results: list[NodeResult] = field(default_factory=list)
    end_outputs: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_step(self, node_id: str) -> None:
        with self.lock:
            self.steps += 1
            steps = self.steps
        if steps > self.max_steps:
            raise RunLimitError(
                f"run exceeded the step limit of {self.max_steps} node executions at node "
                f"{node_id} (FLOWSCOPE_MAX_STEPS)"
            )
        if time.monotonic() > self.deadline:
            raise RunLimitError(
                f"run exceeded its time limit before node {node_id} (FLOWSCOPE_MAX_RUN_SECONDS)"
            )


class WorkflowRunner:
    """Runs one Dify app. Thread-safe: concurrent ``run`` calls do not share state."""

    def __init__(
        self,
        app: DifyApp,
        *,
        services: Services | None = None,
        settings: RunSettings | None = None,
        listeners: Sequence[RunListener] = (),
        conversation_store: ConversationStore | None = None,
    ) -> None:
        self.app = app
        self.graph: AppGraph = validate_app(app)
        self.settings = settings or RunSettings()
        self.services = services or self.settings.default_services()
        self.listeners = tuple(listeners)
        self.conversation_store = conversation_store
        self._states: dict[str, _RunState] = {}
        self._writers = state_writers(self.graph)

    # -- probe target: the workflow run --------------------------------------------------
    def run(
        self,
        inputs: Mapping[str, Any],
        *,
        query: str | None = None,
        conversation_id: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
    ) -> RunResult:
        """Run the app once (one chat turn for advanced-chat apps)."""
        ctx, state = self._prepare(inputs, query, conversation_id, files or ())
        self._notify(
            "on_run_start",
            RunStarted(
                run_id=ctx.run_id,
                app_id=self.app.app_id,
                app_name=self.app.name,
                mode=self.app.mode,
                inputs=dict(ctx.inputs),
                query=state.query,
                conversation_id=state.conversation_id,
                started_at=state.started_at,
            ),
        )
        error: str | None = None
        try:
            self._run_scope(TOP, ctx, state)
        except _RunFailed as exc:
            error = exc.result.error
        except RunLimitError as exc:
            error = str(exc)
        finally:
            self._states.pop(ctx.run_id, None)
        result = self._finish(ctx, state, error)
        self._notify("on_run_finish", RunFinished.from_result(result))
        return result

    def _prepare(
        self,
        inputs: Mapping[str, Any],
        query: str | None,
        conversation_id: str | None,
        files: Sequence[Mapping[str, Any]],
    ) -> tuple[RunContext, _RunState]:
        """Validate inputs, load chat state and build the run's pool and context."""
        run_id = str(uuid.uuid4())
        start = self.graph.nodes[self.graph.scopes[TOP].root]
        conversation = None
        if self.app.mode == "advanced-chat":
            conversation_id = conversation_id or str(uuid.uuid4())
            query = query or ""
            conversation = self._load_conversation(conversation_id)
            if conversation is not None and conversation.turns and not inputs:
                inputs = conversation.inputs  # form inputs of the first turn are reused
        clean_inputs = start.coerce_inputs(inputs) if isinstance(start, StartNode) else {}
        pool = self._initial_pool(run_id, query, conversation_id, files, conversation)
        state = _RunState(
            deadline=time.monotonic() + self.settings.max_run_seconds,
            max_steps=self.settings.max_steps,
            started_at=time.time(),
            query=query,
            conversation_id=conversation_id,
            conversation=conversation,
        )
        self._states[run_id] = state
        ctx = RunContext(
            app=self.app,
            run_id=run_id,
            pool=pool,
            services=self.services,
            executor=self,
            answers=AnswerSink(),
            history=tuple(conversation.turns) if conversation else (),
            inputs=clean_inputs,
        )
        return ctx, state

    def _finish(self, ctx: RunContext, state: _RunState, error: str | None) -> RunResult:
        status: Literal["succeeded", "partial-succeeded", "failed"] = "succeeded"
        if error is not None:
            status = "failed"
        elif any(r.status == "exception" for r in state.results):
            status = "partial-succeeded"
        chat = self.app.mode == "advanced-chat"
        reply = ctx.answers.reply
        if chat and status != "failed" and state.conversation_id is not None:
            self._save_conversation(ctx, state, reply)
        return RunResult(
            run_id=ctx.run_id,
            status=status,
            outputs={"answer": reply} if chat else dict(state.end_outputs),
            error=error,
            answer=reply,
            conversation_id=state.conversation_id,
            node_results=tuple(state.results),
            started_at=state.started_at,
            finished_at=time.time(),
        )

    # -- probe target: one node execution -------------------------------------------------
    def execute_node(self, node: NodeSpec, ctx: RunContext) -> NodeResult:
        """Run ``node`` with retries, timeout and its error strategy; never raises NodeError."""
        instance = self.graph.nodes[node.id]
        config = instance.config
        started = time.time()
        outcome, failure = self._attempt(instance, ctx)
        status: Literal["succeeded", "failed", "exception"] = "succeeded"
        error: str | None = None
        if failure is not None:
            error = str(failure)
            handled = apply_error_strategy(instance, failure)
            if handled is None:
                status = "failed"
                outcome = NodeOutcome(outputs={}, handle="source")
            else:
                status = "exception"
                outcome = handled
        assert outcome is not None
        result = NodeResult(
            node_id=node.id,
            node_type=node.type,
            title=node.title,
            status=status,
            outputs=outcome.outputs,
            handle=outcome.handle,
            inputs=outcome.inputs,
            error=error,
            error_strategy=config.error_strategy if status == "exception" else None,
            attempts=ctx.attempt,
            started_at=started,
            finished_at=time.time(),
            llm_calls=tuple(ctx.llm_calls),
            scope=node.parent_id,
            round_index=ctx.round_index,
        )
        self._notify("on_node_finish", NodeFinished.from_result(ctx.run_id, result))
        return result

    def _attempt(
        self, instance: Node[Any], ctx: RunContext
    ) -> tuple[NodeOutcome | None, NodeError | None]:
        """Run the node, retrying per ``retry_config`` when the node type allows it."""
        retry = instance.config.retry_config
        attempts = 1 + (retry.max_retries if instance.retryable and retry.retry_enabled else 0)
        failure: NodeError | None = None
        for attempt in range(1, attempts + 1):
            ctx.attempt = attempt
            try:
                return self._call(instance, ctx), None
            except RunLimitError:
                raise
            except Exception as exc:  # a node's failure, whatever raised it
                failure = _as_node_error(instance, exc)
                if attempt < attempts:
                    logger.debug("node %s attempt %d failed: %s", instance.id, attempt, failure)
                    time.sleep(retry.retry_interval / 1000)
        return None, failure

    # -- containers -----------------------------------------------------------------------
    def run_scope(self, container_id: str, ctx: RunContext) -> None:
        """Run a container's child graph (called by iteration / loop rounds)."""
        state = self._states[ctx.run_id]
        try:
            self._run_scope(container_id, ctx, state)
        except _RunFailed as exc:
            failed = exc.result
            raise NodeError(failed.node_id, failed.node_type, str(failed.error)) from None

    # -- scheduling -----------------------------------------------------------------------
    def _run_scope(self, scope_id: str, ctx: RunContext, state: _RunState) -> None:
        schedule = ScopeSchedule(self.graph.scopes[scope_id])
        pool: ThreadPoolExecutor | None = None
        try:
            while wave := schedule.next_wave():
                for node_id in wave:
                    state.count_step(node_id)
                for batch in split_batches(wave, self._writers):
                    if len(batch) > 1 and self.settings.max_workers > 1:
                        if pool is None:
                            pool = ThreadPoolExecutor(
                                self.settings.max_workers, thread_name_prefix="flowscope-branch"
                            )
                        futures = [
                            pool.submit(contextvars.copy_context().run, self._execute, n, ctx)
                            for n in batch
                        ]
                        results = [f.result() for f in futures]
                    else:
                        results = [self._execute(n, ctx) for n in batch]
                    for result in results:  # commit in FIFO order, whatever the timing
                        self._commit(scope_id, result, ctx, state)
                        schedule.advance(
                            result.node_id,
                            result.handle,
                            branching=self._branching(result.node_id),
                        )
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

    def _execute(self, node_id: str, ctx: RunContext) -> NodeResult:
        node_ctx = ctx.derive(node_id=node_id)
        return self.execute_node(self.graph.nodes[node_id].spec, node_ctx)

    def _branching(self, node_id: str) -> bool:
        instance = self.graph.nodes[node_id]
        return instance.type in _BRANCH_TYPES or instance.config.error_strategy == "fail-branch"

    def _commit(self, scope_id: str, result: NodeResult, ctx: RunContext, state: _RunState) -> None:
        """Record the result, write outputs, emit answers; a failed node fails the scope."""
        with state.lock:
            state.results.append(result)
        if result.status == "failed":
            raise _RunFailed(result)
        instance = self.graph.nodes[result.node_id]
        ctx.pool.set_outputs(result.node_id, result.outputs)
        if instance.streams_answer:
            ctx.answers.emit(result.node_id, str(result.outputs.get("answer", "")))
        if instance.type == "end" and scope_id == TOP:
            state.end_outputs.update(result.outputs)

    def _call(self, instance: Node[Any], ctx: RunContext) -> NodeOutcome:
        """Run the node, bounded by its timeout and by what is left of the run's time."""
        state = self._states[ctx.run_id]
        remaining = state.deadline - time.monotonic()
        timeout = instance.timeout_seconds(self.settings.node_timeout_seconds)
        limit = remaining if timeout is None else min(timeout, remaining)
        if timeout is None and instance.is_container:
            return instance.run(ctx)  # rounds check the run deadline themselves
        return call_with_timeout(lambda: instance.run(ctx), limit, instance, timeout)

    # -- state ----------------------------------------------------------------------------
    def _initial_pool(
        self,
        run_id: str,
        query: str | None,
        conversation_id: str | None,
        files: Sequence[Mapping[str, Any]],
        conversation: ConversationState | None,
    ) -> VariablePool:
        pool = VariablePool()
        system: dict[str, Any] = {
            "files": [dict(f) for f in files],
            "user_id": self.settings.user_id,
            "app_id": self.app.app_id,
            "workflow_id": self.app.app_id,
            "workflow_run_id": run_id,
            "timestamp": int(time.time()),
        }
        if self.app.mode == "advanced-chat":
            turns = len(conversation.turns) if conversation else 0
            system.update(
                query=query or "",
                conversation_id=conversation_id,
                dialogue_count=turns + self.settings.dialogue_count_base,
            )
        pool.set_outputs("sys", system)
        pool.set_outputs("env", self.settings.environment_values(self.app))
        values = {v.name: declared_value(v) for v in self.app.conversation_variables}
        if conversation is not None:
            values.update(
                {k: v for k, v in conversation.variables.items() if k in values or not values}
            )
        pool.set_outputs("conversation", values)
        return pool

    def _load_conversation(self, conversation_id: str | None) -> ConversationState | None:
        if self.conversation_store is None or conversation_id is None:
            return None
        return self.conversation_store.load(self.app.app_id, conversation_id)

    def _save_conversation(self, ctx: RunContext, state: _RunState, reply: str) -> None:
        if self.conversation_store is None or state.conversation_id is None:
            return
        previous = state.conversation
        turns = (
            [*previous.turns, Turn(state.query or "", reply)]
            if previous
            else [Turn(state.query or "", reply)]
        )
        saved = ConversationState(
            inputs=dict(previous.inputs if previous and previous.turns else ctx.inputs),
            variables=dict(ctx.pool.items("conversation")),
            turns=turns,
        )
        self.conversation_store.save(self.app.app_id, state.conversation_id, saved)

    def _notify(self, method: str, event: Any) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, method)(event)
            except Exception:  # an observer must not break the run
                logger.exception("run listener %r failed in %s", listener, method)


def _as_node_error(instance: Node[Any], exc: BaseException) -> NodeError:
    if isinstance(exc, NodeError):
        return exc
    if isinstance(exc, KeyError):
        return instance.node_error(f"variable {exc.args[0]} not found")
    if isinstance(exc, FlowscopeError):
        return instance.node_error(str(exc))
    return instance.node_error(f"{type(exc).__name__}: {exc}")
