"""The hot path: one wrapt wrapper per target.

Order for every call: read the enclosing :class:`~probe.spec.Scope`, let the target build its
own (cheap), ask the sampler. A dropped call then runs the wrapped function directly — no
OpenTelemetry SDK work at all — with only the scope pushed so nested calls keep their node
identity; a kept call gets an SDK span. Either way the sampler's ``record`` sees the call.

Failures of the probe itself are reported through :mod:`probe.guard` and the host call goes on;
the host's own exceptions are re-raised untouched (bare ``raise``), with their traceback.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import (
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    get_current_span,
    set_span_in_context,
)

from probe import guard, semconv
from probe.redaction import Redactor
from probe.sampling.api import SpanSampler
from probe.spec import Args, Attributes, Kwargs, Scope, Target

_SCOPE: ContextVar[Scope | None] = ContextVar("flowscope_probe_scope", default=None)

_CLIENT_KINDS = frozenset(
    {
        semconv.KIND_LLM,
        semconv.KIND_RETRIEVAL,
        semconv.KIND_EMBEDDING,
        semconv.KIND_HTTP,
        semconv.KIND_TOOL,
    }
)

Wrapper = Callable[[Callable[..., Any], Any, Args, Kwargs], Any]


@dataclass(frozen=True)
class Runtime:
    """What the wrappers share while the probe is instrumented."""

    tracer: Tracer
    sampler: SpanSampler
    capture: Redactor | None  # None: do not capture payloads
    trace_ids: RunTraceIds | None = None


class RunTraceIds(IdGenerator):
    """Lets a workflow root span use the trace id its sampling decision was made with.

    The sampler decides on the trace id *before* the SDK span exists; the root span must carry
    that id or the children's trace-consistent decisions would disagree with the root's.
    """

    def __init__(self, inner: IdGenerator) -> None:
        self._inner = inner
        self._pending = threading.local()

    def expect(self, trace_id: int | None) -> None:
        """The next trace id this thread's next new trace gets (None: forget it)."""
        self._pending.trace_id = trace_id

    def generate_span_id(self) -> int:
        return self._inner.generate_span_id()

    def generate_trace_id(self) -> int:
        trace_id: int | None = getattr(self._pending, "trace_id", None)
        if trace_id is not None:
            self._pending.trace_id = None
            return trace_id
        return self._inner.generate_trace_id()


def install_trace_ids(tracer: Tracer) -> RunTraceIds | None:
    """Give an SDK tracer a :class:`RunTraceIds` generator (None for other tracers)."""
    inner = getattr(tracer, "id_generator", None)
    if isinstance(inner, RunTraceIds):
        return inner
    if not isinstance(inner, IdGenerator):
        return None
    ids = RunTraceIds(inner)
    tracer.id_generator = ids  # type: ignore[attr-defined]
    return ids


def current_scope() -> Scope | None:
    """The scope of the innermost wrapped call running in this context."""
    return _SCOPE.get()


def make_wrapper(target: Target, runtime: Runtime) -> Wrapper:
    """Build the wrapt wrapper function for ``target``."""
    kind = target.kind
    critical = target.critical
    enter = target.enter
    observe = target.observe
    prepare = target.prepare
    failed = target.failed
    sampler = runtime.sampler
    where = target.target
    traced = _make_traced(target, runtime)
    decide = sampler.decide
    record = sampler.record
    get_scope = _SCOPE.get
    set_scope = _SCOPE.set
    reset_scope = _SCOPE.reset

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
        parent = get_scope()
        try:
            scope = enter(parent, instance, args, kwargs)
            decision = decide(
                kind,
                scope.workflow,
                scope.node_type,
                scope.trace_id,
                parent.sampled if parent is not None else _outer_sampled(),
                critical,
            )
        except Exception as exc:
            guard.report(where, exc)
            return wrapped(*args, **kwargs)
        if decision[0]:  # .sampled
            return traced(wrapped, instance, args, kwargs, scope, decision[1], decision[2])
        # Dropped: no SDK work at all, only the scope for nested calls.
        if prepare is not None:  # propagate the nearest kept span (W3C) even when this is dropped
            try:
                args, kwargs = prepare(instance, args, kwargs)
            except Exception as exc:
                guard.report(f"{where} (prepare)", exc)
        token = set_scope(scope)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException:
            reset_scope(token)
            _record(sampler, kind, scope, True, where)
            raise
        reset_scope(token)
        try:
            if observe is not None:
                observe(scope, instance, args, kwargs, result)
            record(kind, scope.workflow, scope.node_type, failed is not None and failed(result))
        except Exception as exc:
            guard.report(where, exc)
        return result

    return wrapper


def _outer_sampled() -> bool:
    """``parent_sampled`` for a call with no enclosing probe scope.

    Under a span of the host (a server request) its sampled flag counts; with no parent at all
    there is no constraint, so True: a standalone LLM call is then sampled by its own rule.
    """
    span_context = get_current_span().get_span_context()
    return bool(span_context.trace_flags.sampled) if span_context.is_valid else True


def _record(sampler: SpanSampler, kind: str, scope: Scope, error: bool, where: str) -> None:
    try:
        sampler.record(kind, scope.workflow, scope.node_type, error)
    except Exception as exc:
        guard.report(f"{where} (sampler.record)", exc)


def _end_with_exception(
    span: Span,
    scope: Scope,
    kind: str,
    attributes: Attributes,
    rate: float,
    reason: str,
    exc: BaseException,
    capture: Redactor | None,
) -> None:
    """Record the host's exception on the span (message and stack scrubbed) and end it."""
    final = scope.inherited()
    final.update(attributes)
    final[semconv.SPAN_KIND] = kind
    final[semconv.SAMPLING_RATE] = rate
    final[semconv.SAMPLING_REASON] = reason
    final[semconv.ERROR_TYPE] = type(exc).__qualname__
    span.set_attributes(final)
    message = str(exc)
    stack = "".join(traceback.format_exception(exc))
    if capture is not None:
        message, stack = capture.scrub(message), capture.scrub(stack)
    span.record_exception(
        exc, {"exception.message": message, "exception.stacktrace": stack}, escaped=True
    )
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))
    span.end()


def _make_traced(target: Target, runtime: Runtime) -> Callable[..., Any]:
    kind = target.kind
    describe = target.describe
    finish = target.finish
    observe = target.observe
    prepare = target.prepare
    failed = target.failed
    tracer = runtime.tracer
    sampler = runtime.sampler
    capture = runtime.capture
    trace_ids = runtime.trace_ids
    where = target.target
    span_kind = SpanKind.CLIENT if kind in _CLIENT_KINDS else SpanKind.INTERNAL
    set_scope = _SCOPE.set
    reset_scope = _SCOPE.reset
    attach = otel_context.attach
    detach = otel_context.detach

    def traced(
        wrapped: Callable[..., Any],
        instance: Any,
        args: Args,
        kwargs: Kwargs,
        scope: Scope,
        rate: float,
        reason: str,
    ) -> Any:
        try:
            name, attributes = describe(scope, instance, args, kwargs, capture)
            parent_context = None
            run = scope.run
            if run is not None and scope.kept_ancestor() is None:
                if scope.parent is not None and scope.parent.run is run:
                    parent_context = run.detached_parent()  # the run's root was dropped
                elif run.has_external_parent:
                    parent_context = run.detached_parent()  # the caller's (remote) span
                elif trace_ids is not None:
                    trace_ids.expect(run.trace_id)  # a new trace: use the decided id
            # Attributes are written once, when the span ends (one locked update, not two).
            span = tracer.start_span(name, parent_context, span_kind)
            if trace_ids is not None:
                trace_ids.expect(None)  # unused if the SDK found a parent: never leak it
            scope.span = span
            scope.sampled = True
            otel_token = attach(set_span_in_context(span))
        except Exception as exc:
            guard.report(where, exc)
            return wrapped(*args, **kwargs)
        token = set_scope(scope)
        try:
            if prepare is not None:
                try:
                    args, kwargs = prepare(instance, args, kwargs)
                except Exception as exc:
                    guard.report(f"{where} (prepare)", exc)
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            reset_scope(token)
            detach(otel_token)
            try:
                _end_with_exception(span, scope, kind, attributes, rate, reason, exc, capture)
            except Exception as probe_exc:
                guard.report(where, probe_exc)
            _record(sampler, kind, scope, True, where)
            raise
        reset_scope(token)
        detach(otel_token)
        error = False
        try:
            if observe is not None:
                observe(scope, instance, args, kwargs, result)
            final = scope.inherited()
            final.update(attributes)
            final.update(finish(scope, instance, args, kwargs, result, capture))
            final[semconv.SPAN_KIND] = kind
            final[semconv.SAMPLING_RATE] = rate
            final[semconv.SAMPLING_REASON] = reason
            span.set_attributes(final)
            if failed is not None and failed(result):
                error = True
                span.set_status(Status(StatusCode.ERROR))
        except Exception as exc:
            guard.report(where, exc)
        span.end()
        _record(sampler, kind, scope, error, where)
        return result

    return traced
