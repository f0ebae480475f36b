"""A graphon engine layer that emits flowscope's spans for one graphon run.

graphon runs a workflow as a generator (``Engine.run``) driven by the caller, with nodes executed
on the engine's worker threads and containers (iteration, loop) suspended between rounds. That
does not fit "wrap one synchronous method", so the graphon target set installs this layer into
every ``Engine`` instead, and uses graphon's own tracing hooks (see graphon's
``engine/layer/README.md``):

* ``on_graph_start`` / ``on_graph_end`` (caller's thread): the ``invoke_workflow {name}`` root,
  a child of whatever span is current in the caller (a Dify request span);
* ``node_run_context`` (worker thread, around every task including container resumes): starts
  the ``{node_type} {title}`` span on first entry and activates it — both the OpenTelemetry
  context and the probe's scope — so calls made inside the node (LLM client, code sandbox, HTTP)
  become its children with the node's identity, whichever worker thread runs them;
* ``on_node_run_end``: ends the node span with status, retry count and captured payloads;
* nodes of an iteration / loop round frame are parented to an ``iteration[i]`` / ``loop[i]``
  span under the container node, ``i`` read from the round frame graphon runs them in.

Names and attributes are the same as for workflow_core (docs/contracts.md).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from probe import guard, semconv
from probe._wrappers import _SCOPE, Runtime
from probe.spec import Attributes, Run, Scope

try:  # graphon is imported by the host before this module is (post-import hook)
    from graphon.engine.layer import Layer
except ImportError:  # pragma: no cover - the module is only imported once graphon is
    Layer = object  # type: ignore[assignment,misc]

_CONTAINER_KINDS = {"iteration": semconv.KIND_ITERATION, "loop": semconv.KIND_LOOP}
_INDEX_ATTR = {
    semconv.KIND_ITERATION: semconv.ITERATION_INDEX,
    semconv.KIND_LOOP: semconv.LOOP_INDEX,
}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _node_own(node: Any) -> Attributes:
    return {
        semconv.NODE_ID: _text(getattr(node, "id", "")),
        semconv.NODE_TYPE: _text(getattr(node, "node_type", "")),
        semconv.NODE_TITLE: _text(getattr(node, "title", "")),
    }


def _round_own(src: tuple[str, int]) -> Attributes:
    return {_INDEX_ATTR[src[0]]: src[1]}


@dataclass
class _Round:
    """A round span ends when its container has ended and every node of the round has ended —
    in either order: the container can resume on another worker before the worker that ran the
    round's last node has called its end hook."""

    scope: Scope
    kind: str  # KIND_ITERATION / KIND_LOOP
    container: _NodeRun
    end_ns: int = 0
    open_nodes: int = 0
    closing: bool = False


@dataclass
class _NodeRun:
    scope: Scope
    kind: str  # KIND_ITERATION / KIND_LOOP for containers, else KIND_NODE
    retries: int = 0
    rounds: dict[int, _Round] = field(default_factory=dict)
    # A container whose rounds are still open when it ends keeps its span open until they close.
    open_rounds: int = 0


class FlowscopeLayer(Layer):  # type: ignore[misc,valid-type]
    """Spans for one graphon ``Engine`` (a layer instance serves one engine)."""

    def __init__(self, engine: Any, runtime_source: Any) -> None:
        super().__init__()
        self._engine = weakref.ref(engine)
        self._runtime_source = runtime_source  # () -> Runtime | None, read at each run start
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()
        self._nodes: dict[str, _NodeRun] = {}
        self._rounds: dict[int, _Round] = {}  # id(round scope) -> round
        self._root: Scope | None = None
        self._otel_token: object | None = None
        self._status = "failed"
        self._outputs: Any = None
        self._error: str | None = None

    # -- the run ----------------------------------------------------------------------------

    def on_graph_start(self) -> None:
        self._runtime = self._runtime_source()
        if self._runtime is None:
            return
        try:
            self._start_run(self._runtime)
        except Exception as exc:
            guard.report("graphon layer (graph start)", exc)
            self._runtime = None

    def _start_run(self, rt: Runtime) -> None:
        engine = self._engine()
        context, workflow_id = _run_context(engine)
        name = _text(context.get("app_name")) or workflow_id or "workflow"
        attrs: Attributes = {semconv.WORKFLOW_NAME: name}
        attrs[semconv.WORKFLOW_ID] = _text(context.get("app_id")) or workflow_id
        attrs[semconv.WORKFLOW_MODE] = _text(context.get("app_mode")) or "workflow"
        attrs[semconv.WORKFLOW_RUN_ID] = _text(context.get("workflow_run_id")) or str(uuid.uuid4())
        external = trace.get_current_span()
        if external.get_span_context().is_valid:
            run = Run(
                external.get_span_context().trace_id, name, attrs, set_span_in_context(external)
            )
        else:
            run = Run(random.getrandbits(128) or 1, name, attrs)
        scope = Scope(None, run, None)
        self._status, self._outputs, self._error = "failed", None, None
        self._nodes.clear()
        self._rounds.clear()
        self._root = scope
        decision = rt.sampler.decide(semconv.KIND_WORKFLOW, name, None, run.trace_id, False)
        if not decision.sampled:
            return
        if rt.trace_ids is not None and not run.has_external_parent:
            rt.trace_ids.expect(run.trace_id)
        span_attrs = {**run.attrs, semconv.SPAN_KIND: semconv.KIND_WORKFLOW}
        span_attrs[semconv.SAMPLING_RATE] = decision.rate
        span_attrs[semconv.SAMPLING_REASON] = decision.reason
        span = rt.tracer.start_span(f"invoke_workflow {name}", None, SpanKind.INTERNAL, span_attrs)
        scope.span, scope.sampled = span, True
        run.trace_id = span.get_span_context().trace_id

    def on_event(self, event: Any) -> None:
        if self._runtime is None:
            return
        try:
            kind = type(event).__name__
            if kind == "NodeRunRetryEvent":
                with self._lock:
                    node_run = self._nodes.get(getattr(event, "id", ""))
                    if node_run is not None:
                        node_run.retries += 1
            elif kind in ("GraphRunSucceededEvent", "GraphRunPartialSucceededEvent"):
                self._status = "succeeded" if kind == "GraphRunSucceededEvent" else "partial"
                self._outputs = getattr(event, "outputs", None)
            elif kind in ("GraphRunFailedEvent", "GraphRunAbortedEvent"):
                self._status = "failed"
                self._error = _text(getattr(event, "error", None) or getattr(event, "reason", ""))
            elif kind == "GraphRunPausedEvent":
                self._status = "paused"
        except Exception as exc:
            guard.report("graphon layer (event)", exc)

    def on_graph_end(self, error: Exception | None) -> None:
        rt, root = self._runtime, self._root
        if rt is None or root is None:
            return
        try:
            if error is not None:
                self._status, self._error = "failed", self._error or f"{error}"
            failed = self._status == "failed"
            span = root.span
            if span is not None:
                span.set_attribute(semconv.WORKFLOW_STATUS, self._status)
                if rt.capture is not None and self._outputs is not None:
                    span.set_attribute(semconv.NODE_OUTPUTS, rt.capture.capture(self._outputs))
                if failed:
                    message = rt.capture.scrub(self._error or "") if rt.capture else "error"
                    span.set_attribute("flowscope.error.message", message)
                    span.set_status(Status(StatusCode.ERROR))
                span.end()
            rt.sampler.record(semconv.KIND_WORKFLOW, root.workflow, None, failed)
        except Exception as exc:
            guard.report("graphon layer (graph end)", exc)
        finally:
            self._root = None

    # -- nodes (worker threads) -------------------------------------------------------------

    def node_run_context(
        self, node: Any, *, parent_execution_id: str | None = None
    ) -> AbstractContextManager[None]:
        return self._activate(node, parent_execution_id)

    @contextmanager
    def _activate(self, node: Any, parent_execution_id: str | None) -> Iterator[None]:
        scope: Scope | None = None
        if self._runtime is not None and self._root is not None:
            try:
                scope = self._node_scope(self._runtime, node, parent_execution_id)
            except Exception as exc:
                guard.report("graphon layer (node start)", exc)
        if scope is None:
            yield
            return
        token = _SCOPE.set(scope)
        kept = scope if scope.sampled else scope.kept_ancestor()
        otel_token = (
            otel_context.attach(set_span_in_context(kept.span))
            if kept is not None and kept.span is not None
            else None
        )
        try:
            yield
        finally:
            if otel_token is not None:
                otel_context.detach(otel_token)
            _SCOPE.reset(token)

    def _node_scope(self, rt: Runtime, node: Any, parent_execution_id: str | None) -> Scope:
        execution_id = node.execution_id
        with self._lock:
            existing = self._nodes.get(execution_id)
            if existing is not None:  # a container resuming
                return existing.scope
            parent = self._root
            assert parent is not None
            if parent_execution_id is not None and parent_execution_id in self._nodes:
                parent = self._round_scope(rt, self._nodes[parent_execution_id])
                round_ = self._rounds.get(id(parent))
                if round_ is not None:
                    round_.open_nodes += 1
        node_type = _text(node.node_type)
        scope = Scope(parent, parent.run, node_type, _node_own, node)
        decision = rt.sampler.decide(
            semconv.KIND_NODE, scope.workflow, node_type, scope.trace_id, parent.sampled
        )
        if decision.sampled:
            name = f"{node_type} {_text(node.title) or node.id}"
            attrs = scope.inherited()
            attrs[semconv.SPAN_KIND] = semconv.KIND_NODE
            attrs[semconv.SAMPLING_RATE] = decision.rate
            attrs[semconv.SAMPLING_REASON] = decision.reason
            strategy = getattr(node, "error_strategy", None)
            if strategy is not None:
                attrs[semconv.ERROR_STRATEGY] = _text(getattr(strategy, "value", strategy))
            scope.span = rt.tracer.start_span(
                name, _parent_context(scope), SpanKind.INTERNAL, attrs
            )
            scope.sampled = True
        with self._lock:
            kind = _CONTAINER_KINDS.get(node_type, semconv.KIND_NODE)
            self._nodes[execution_id] = _NodeRun(scope, kind)
        return scope

    def _round_scope(self, rt: Runtime, container: _NodeRun) -> Scope:
        """The round span of the frame the current worker runs in (caller holds the lock)."""
        index = _current_round_index(self._engine())
        if index is None or container.kind == semconv.KIND_NODE:
            return container.scope
        found = container.rounds.get(index)
        if found is not None:
            return found.scope
        parent = container.scope
        scope = Scope(parent, parent.run, parent.node_type, _round_own, (container.kind, index))
        decision = rt.sampler.decide(
            container.kind, scope.workflow, parent.node_type, scope.trace_id, parent.sampled
        )
        if decision.sampled:
            attrs = scope.inherited()
            attrs[semconv.SPAN_KIND] = container.kind
            attrs[semconv.SAMPLING_RATE] = decision.rate
            attrs[semconv.SAMPLING_REASON] = decision.reason
            scope.span = rt.tracer.start_span(
                f"{container.kind}[{index}]", _parent_context(scope), SpanKind.INTERNAL, attrs
            )
            scope.sampled = True
        container.rounds[index] = self._rounds[id(scope)] = _Round(scope, container.kind, container)
        return scope

    def on_node_run_end(self, node: Any, error: Exception | None, result_event: Any = None) -> None:
        rt = self._runtime
        if rt is None:
            return
        try:
            with self._lock:
                node_run = self._nodes.pop(node.execution_id, None)
            if node_run is not None:
                self._end_node(rt, node_run, error, result_event)
        except Exception as exc:
            guard.report("graphon layer (node end)", exc)

    def _end_node(self, rt: Runtime, node_run: _NodeRun, error: Any, result_event: Any) -> None:
        scope = node_run.scope
        result = getattr(result_event, "node_run_result", None)
        status = _text(getattr(getattr(result, "status", None), "value", "")) or (
            "failed" if error is not None else "succeeded"
        )
        failed = error is not None or status in ("failed", "exception")
        now = time.time_ns()
        if scope.span is not None:
            self._finish_node_span(rt, scope.span, node_run, status, failed, result, error)
        finished: list[_Round] = []
        late_containers: list[_NodeRun] = []  # ended earlier, waiting for this node's round
        with self._lock:
            enclosing = self._rounds.get(id(scope.parent))
            if enclosing is not None:  # a node of a round: the round lasts until it ends
                enclosing.end_ns = max(enclosing.end_ns, now)
                enclosing.open_nodes -= 1
                if enclosing.closing and enclosing.open_nodes <= 0:
                    finished.append(enclosing)
            node_run.open_rounds = len(node_run.rounds)
            for round_ in node_run.rounds.values():
                round_.closing = True
                if round_.open_nodes <= 0:
                    finished.append(round_)
            for round_ in finished:
                self._rounds.pop(id(round_.scope), None)
                container = round_.container
                container.open_rounds -= 1
                if container is not node_run and container.open_rounds == 0:
                    late_containers.append(container)
            end_now = node_run.open_rounds == 0  # else the last round's last node ends it
        for round_ in finished:
            if round_.scope.span is not None:
                round_.scope.span.end(end_time=round_.end_ns or now)
            rt.sampler.record(round_.kind, scope.workflow, round_.scope.node_type, False)
        for container in late_containers:
            if container.scope.span is not None:
                container.scope.span.end(end_time=now)
        if end_now and scope.span is not None:
            scope.span.end(end_time=now)
        rt.sampler.record(semconv.KIND_NODE, scope.workflow, scope.node_type, failed)

    @staticmethod
    def _finish_node_span(
        rt: Runtime,
        span: Any,
        node_run: _NodeRun,
        status: str,
        failed: bool,
        result: Any,
        error: Any,
    ) -> None:
        attrs: Attributes = {
            semconv.RETRY_ATTEMPT: node_run.retries + 1,
            semconv.NODE_STATUS: status,
        }
        if status == "exception":
            attrs[semconv.ERROR_STRATEGY_OUTCOME] = "handled"
        if rt.capture is not None and result is not None:
            attrs[semconv.NODE_INPUTS] = rt.capture.capture(dict(result.inputs or {}))
            attrs[semconv.NODE_OUTPUTS] = rt.capture.capture(dict(result.outputs or {}))
        message = _text(getattr(result, "error", None) or (error and str(error)))
        if message:
            attrs["flowscope.error.message"] = rt.capture.scrub(message) if rt.capture else "error"
        span.set_attributes(attrs)
        if error is not None:
            span.record_exception(error)
        if failed:
            span.set_status(Status(StatusCode.ERROR))


def _parent_context(scope: Scope) -> otel_context.Context | None:
    kept = scope.kept_ancestor()
    if kept is not None and kept.span is not None:
        return set_span_in_context(kept.span)
    run = scope.run
    return run.detached_parent() if run is not None else None


def _run_context(engine: Any) -> tuple[dict[str, Any], str]:
    """graphon's ``run_context`` (the host's identity of the run) and workflow id."""
    nodes = getattr(getattr(engine, "graph", None), "nodes", None) or {}
    for node in nodes.values():
        params = getattr(node, "init_params", None)
        if params is not None:
            return dict(params.run_context or {}), _text(params.workflow_id)
    state = getattr(engine, "runtime_state", None)
    return {}, _text(getattr(state, "workflow_id", ""))


def _current_round_index(engine: Any) -> int | None:
    """Index of the iteration / loop round the current worker thread is running a node of."""
    worker = threading.current_thread()
    frame_id = getattr(worker, "_current_frame_id", None)
    state = getattr(engine, "runtime_state", None)
    if frame_id is None or state is None:
        return None
    try:
        frame = state.get_container_frame(frame_id)
    except KeyError:
        return None
    index = getattr(frame, "index", None)
    return index if isinstance(index, int) else None
