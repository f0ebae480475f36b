"""The hot path: one wrapper per target — a plain function standing in for an instance method
(:func:`make_method`, the default) or a wrapt wrapper (:func:`make_wrapper`) for anything else.

Order for every call: read the enclosing :class:`~probe.spec.Scope`, let the target build its
own (cheap), ask the sampler. A dropped call then runs the wrapped function directly — no
OpenTelemetry SDK work at all — with only the scope pushed so nested calls keep their node
identity; a kept call gets an SDK span. The sampler counts every call in ``decide`` and hears
of failures through ``record`` (of successes too when it asks: ``record_successes``).

Failures of the probe itself are reported through :mod:`probe.guard` and the host call goes on;
the host's own exceptions are re-raised untouched (bare ``raise``), with their traceback.
"""

from __future__ import annotations

import functools
import inspect
import threading
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from types import FunctionType, MappingProxyType
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
from probe.sampling.api import Decision, SpanSampler
from probe.spec import Args, Attributes, Kwargs, Prepare, Scope, Target

_SCOPE: ContextVar[Scope | None] = ContextVar("flowscope_probe_scope", default=None)
# The keyword arguments of a call made with positional ones only (read-only: shared).
_NO_KWARGS: Kwargs = MappingProxyType({})  # type: ignore[assignment]
_NO_ATTRIBUTES: Attributes = MappingProxyType({})  # type: ignore[assignment]

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


class _PendingTraceId(threading.local):
    trace_id: int | None = None  # every thread starts with none (no AttributeError to catch)


class RunTraceIds(IdGenerator):
    """Lets a workflow root span use the trace id its sampling decision was made with.

    The sampler decides on the trace id *before* the SDK span exists; the root span must carry
    that id or the children's trace-consistent decisions would disagree with the root's.
    """

    def __init__(self, inner: IdGenerator) -> None:
        self._inner = inner
        self._pending = _PendingTraceId()
        # Span ids need nothing of ours: the inner generator's own method, no extra call.
        self.generate_span_id = inner.generate_span_id  # type: ignore[method-assign]

    def expect(self, trace_id: int | None) -> None:
        """The next trace id this thread's next new trace gets (None: forget it)."""
        self._pending.trace_id = trace_id

    def generate_span_id(self) -> int:
        return self._inner.generate_span_id()

    def generate_trace_id(self) -> int:
        trace_id = self._pending.trace_id
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


# The wrappers, as source, generated per target (as dataclasses and namedtuple generate their
# methods): a lean method whose parameters are plain (``def execute_node(self, node, ctx)``) gets
# a function with the same parameters — passing them on costs far less than ``*args, **kwargs``
# packing — and the wrapt wrapper is the same body with wrapt's calling convention. The whole
# call path is inline (a Python call costs more than most of what it would hold), and lines
# for hooks a target does not have (``prepare``, ``observe``, ``failed``) are left out. Every
# name the body uses is ``_fs_``-prefixed so no parameter can shadow it. A dropped call gets no
# SDK work at all, only the scope for nested calls.
_SOURCE = """\
def {name}({signature}):
    {unpack}
    _fs_parent = _fs_get_scope()
    try:
        _fs_scope = _fs_enter(_fs_parent, self, _fs_args, _fs_kwargs)
        _fs_decision = _fs_decide(
            _fs_kind,
            _fs_scope.workflow,
            _fs_scope.node_type,
            _fs_scope.trace_id,
            _fs_parent.sampled if _fs_parent is not None else _fs_outer_sampled(),
            _fs_critical,
        )
    except Exception as _fs_exc:
        _fs_report(_fs_where, _fs_exc)
        return {forward}
    if _fs_decision[0]:  # .sampled: an SDK span, current while the call runs
        try:
            _fs_name, _fs_attributes = _fs_describe(
                _fs_scope, self, _fs_args, _fs_kwargs, _fs_capture
            )
            if _fs_parent is not None and _fs_parent.sampled:  # a child of the current span
                _fs_span = _fs_start_span(_fs_name, None, _fs_span_kind)
            else:
                _fs_span = _fs_start_unparented(_fs_scope, _fs_name)
            _fs_scope.span = _fs_span
            _fs_scope.sampled = True
            _fs_context_token = _fs_attach(_fs_set_span_in_context(_fs_span))
        except Exception as _fs_exc:
            _fs_report(_fs_where, _fs_exc)
            return {forward}
{prepare_kept}\
        _fs_token = _fs_set_scope(_fs_scope)
        try:
            _fs_result = {call}
        except BaseException as _fs_exc:
            _fs_reset_scope(_fs_token)
            _fs_detach(_fs_context_token)
            _fs_fail(_fs_span, _fs_scope, _fs_attributes, _fs_decision, _fs_exc)
            raise
        _fs_reset_scope(_fs_token)
        _fs_detach(_fs_context_token)
        _fs_error = False
        try:
{observe_kept}\
            _fs_run = _fs_scope.run
            _fs_span.set_attributes({{
                **(_fs_run.attrs if _fs_run is not None else _fs_no_attributes),
                **(_fs_parent.chain() if _fs_parent is not None else _fs_no_attributes),
                **_fs_attributes,
                **_fs_finish(_fs_scope, self, _fs_args, _fs_kwargs, _fs_result, _fs_capture),
                _fs_span_kind_key: _fs_kind,
                _fs_rate_key: _fs_decision[1],
                _fs_reason_key: _fs_decision[2],
            }})
{failed_kept}\
        except Exception as _fs_exc:
            _fs_report(_fs_where, _fs_exc)
        _fs_span.end()
        {record_kept}
        return _fs_result
{prepare_dropped}\
    _fs_token = _fs_set_scope(_fs_scope)
    try:
        _fs_result = {call}
    except BaseException:
        _fs_reset_scope(_fs_token)
        _fs_record_guarded(_fs_sampler, _fs_kind, _fs_scope, True, _fs_where)
        raise
    _fs_reset_scope(_fs_token)
    try:
{observe_dropped}\
{record_dropped}\
    except Exception as _fs_exc:
        _fs_report(_fs_where, _fs_exc)
    return _fs_result
"""
_PREPARE = (
    "{indent}_fs_args, _fs_kwargs = "
    "_fs_prepare_call(_fs_prepare, _fs_where, self, _fs_args, _fs_kwargs)\n"
)
_RECORD = "_fs_record(_fs_kind, _fs_scope.workflow, _fs_scope.node_type, {error})"


def _failure_test(target: Target) -> str | None:
    """The expression telling a returned result that counts as an error (None: none does)."""
    tests = []
    if target.failed_statuses:  # inline: no call for the commonest test
        tests.append('getattr(_fs_result, "status", None) in _fs_failed_statuses')
    if target.failed is not None:
        tests.append("_fs_failed(_fs_result)")
    return " or ".join(tests) or None


def _source(fields: dict[str, str], target: Target, counts: bool) -> str:
    """The wrapper's source for ``target``: only the lines its hooks need.

    ``counts``: the sampler counts spans in ``decide`` (api.py), so a success needs no
    ``record`` unless it asks for them (``record_successes``).
    """
    prepare = target.prepare is not None
    observe = "_fs_observe(_fs_scope, self, _fs_args, _fs_kwargs, _fs_result)\n"
    has_observe = target.observe is not None
    success, error = _RECORD.format(error=False), _RECORD.format(error=True)
    failed = _failure_test(target)
    if failed is None:
        record_dropped = f"        if _fs_sampler.record_successes:\n            {success}\n"
        if not counts:
            record_dropped = f"        {success}\n"
    else:
        record_dropped = f"        if {failed}:\n            {error}\n" + (
            f"        elif _fs_sampler.record_successes:\n            {success}\n"
            if counts
            else f"        else:\n            {success}\n"
        )
    return _SOURCE.format(
        **fields,
        # inside the span, so an injected header names it; for a dropped call, the nearest
        # kept span
        prepare_kept=_PREPARE.format(indent=" " * 8) if prepare else "",
        prepare_dropped=_PREPARE.format(indent=" " * 4) if prepare else "",
        observe_kept=" " * 12 + observe if has_observe else "",
        observe_dropped=" " * 8 + observe if has_observe else "",
        failed_kept=(
            f"            if {failed}:\n"
            "                _fs_error = True\n"
            "                _fs_span.set_status(_fs_error_status)\n"
            if failed is not None
            else ""
        ),
        record_kept=(
            "if _fs_error or _fs_sampler.record_successes:\n"
            "            _fs_record_guarded(_fs_sampler, _fs_kind, _fs_scope, _fs_error, _fs_where)"
            if counts
            else "_fs_record_guarded(_fs_sampler, _fs_kind, _fs_scope, _fs_error, _fs_where)"
        ),
        record_dropped=record_dropped,
    )


def make_wrapper(target: Target, runtime: Runtime) -> Wrapper:
    """The wrapt wrapper function for ``target`` (``FLOWSCOPE_PROBE_WRAPPER=wrapt``, and targets
    that are not plain functions)."""
    forward = "_fs_wrapped(*_fs_args, **_fs_kwargs)"
    fields = {
        "name": "wrapper",
        "signature": "_fs_wrapped, self, _fs_args, _fs_kwargs",
        "unpack": "pass",
        "forward": forward,
        "call": forward,
    }
    wrapper: Wrapper = _compile(fields, target, _namespace(target, runtime))["wrapper"]
    return wrapper


def make_method(target: Target, runtime: Runtime, original: FunctionType) -> FunctionType:
    """A plain function replacing the instance method ``original`` (the default, lean mode).

    Same behaviour as :func:`make_wrapper`'s wrapper, but the call reaches ``original`` with no
    bound-method or wrapper object in between, so a sampled-out call costs a scope, a sampler
    lookup, a context-variable set/reset and a result check. It carries the original's
    metadata (``__name__``, ``__qualname__``, ``__doc__``, ``__module__``, ``__wrapped__``,
    hence ``inspect.signature``) and its defaults.
    """
    namespace = _namespace(target, runtime)
    namespace["_fs_original"] = original
    forward = "_fs_original(self, *_fs_args, **_fs_kwargs)"
    fields = {"name": "method", "forward": forward, "call": forward}
    params = _plain_params(original)
    if params is None:  # *args, keyword-only … : forward whatever the caller passed
        fields["signature"] = "self, /, *_fs_args, **_fs_kwargs"
        fields["unpack"] = "pass"
    else:
        listed = "".join(f", {name}" for name in params)
        fields["signature"] = f"self{listed}"
        fields["unpack"] = f"_fs_args, _fs_kwargs = ({listed[2:]},), _fs_no_kwargs"
        if target.prepare is None:  # else pass on whatever prepare returned
            fields["call"] = f"_fs_original(self{listed})"
    method: FunctionType = _compile(fields, target, namespace)["method"]
    method.__defaults__ = original.__defaults__ if params is not None else None
    functools.update_wrapper(method, original)
    return method


def _namespace(target: Target, runtime: Runtime) -> dict[str, Any]:
    sampler = runtime.sampler
    return {
        "_fs_kind": target.kind,
        "_fs_critical": target.critical,
        "_fs_enter": target.enter,
        "_fs_describe": target.describe,
        "_fs_finish": target.finish,
        "_fs_observe": target.observe,
        "_fs_prepare": target.prepare,
        "_fs_failed": target.failed,
        "_fs_failed_statuses": target.failed_statuses,
        "_fs_sampler": sampler,
        "_fs_capture": runtime.capture,
        "_fs_where": target.target,
        "_fs_decide": sampler.decide,
        "_fs_record": sampler.record,
        "_fs_record_guarded": _record,
        "_fs_report": guard.report,
        "_fs_get_scope": _SCOPE.get,
        "_fs_set_scope": _SCOPE.set,
        "_fs_reset_scope": _SCOPE.reset,
        "_fs_outer_sampled": _outer_sampled,
        "_fs_prepare_call": _prepare_call,
        "_fs_no_kwargs": _NO_KWARGS,
        "_fs_no_attributes": _NO_ATTRIBUTES,
        "_fs_start_span": runtime.tracer.start_span,
        "_fs_span_kind": _span_kind(target.kind),
        "_fs_start_unparented": _make_start_unparented(target, runtime),
        "_fs_fail": _make_fail(target, runtime),
        "_fs_attach": otel_context.attach,
        "_fs_detach": otel_context.detach,
        "_fs_set_span_in_context": set_span_in_context,
        "_fs_span_kind_key": semconv.SPAN_KIND,
        "_fs_rate_key": semconv.SAMPLING_RATE,
        "_fs_reason_key": semconv.SAMPLING_REASON,
        "_fs_error_status": Status(StatusCode.ERROR),
    }


def _compile(fields: dict[str, str], target: Target, namespace: dict[str, Any]) -> dict[str, Any]:
    counts = hasattr(namespace["_fs_sampler"], "record_successes")  # counts spans in decide
    source = _source(fields, target, counts)
    code = compile(source, f"<flowscope probe {target.target}>", "exec")
    exec(code, namespace)  # our own template; parameter names come from the wrapped function
    return namespace


def _plain_params(function: FunctionType) -> tuple[str, ...] | None:
    """Names of the parameters after ``self`` when all are plain positional-or-keyword ones."""
    code = function.__code__
    if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) or code.co_kwonlyargcount:
        return None
    if code.co_posonlyargcount > 1 or code.co_argcount < 1:
        return None
    names = code.co_varnames[1 : code.co_argcount]
    if any(name.startswith("_fs_") for name in names):
        return None
    return names


def _prepare_call(
    prepare: Prepare, where: str, instance: Any, args: Args, kwargs: Kwargs
) -> tuple[Args, Kwargs]:
    """Rewrite the call's arguments (W3C header injection: this span's, or for a dropped call
    the nearest kept one's)."""
    try:
        return prepare(instance, args, kwargs)
    except Exception as exc:
        guard.report(f"{where} (prepare)", exc)
        return args, kwargs


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


def _span_kind(kind: str) -> SpanKind:
    return SpanKind.CLIENT if kind in _CLIENT_KINDS else SpanKind.INTERNAL


def _make_start_unparented(target: Target, runtime: Runtime) -> Callable[[Scope, str], Span]:
    """Start the span of a kept call whose enclosing probe scope is not kept (or absent).

    Its parent is then the nearest kept ancestor (current in the OTel context); with none in
    this run, a stand-in for the dropped run root (so the run's kept spans share its trace),
    or the run's remote parent; a run with neither starts its trace with the decided id.
    """
    tracer, trace_ids = runtime.tracer, runtime.trace_ids
    span_kind = _span_kind(target.kind)

    def start_unparented(scope: Scope, name: str) -> Span:
        run, parent = scope.run, scope.parent
        if run is None or scope.kept_ancestor() is not None:
            return tracer.start_span(name, None, span_kind)
        if (parent is not None and parent.run is run) or run.has_external_parent:
            return tracer.start_span(name, run.detached_parent(), span_kind)
        if trace_ids is None:
            return tracer.start_span(name, None, span_kind)
        trace_ids.expect(run.trace_id)  # a new trace: use the decided id
        try:
            return tracer.start_span(name, None, span_kind)
        finally:
            trace_ids.expect(None)  # unused if the SDK found a parent: never leak it

    return start_unparented


def _make_fail(
    target: Target, runtime: Runtime
) -> Callable[[Span, Scope, Attributes, Decision, BaseException], None]:
    """End a kept span whose call raised (the wrapper re-raises) and tell the sampler."""
    kind, where, sampler, capture = target.kind, target.target, runtime.sampler, runtime.capture

    def fail(
        span: Span, scope: Scope, attributes: Attributes, decision: Decision, exc: BaseException
    ) -> None:
        try:
            rate, reason = decision[1], decision[2]
            _end_with_exception(span, scope, kind, attributes, rate, reason, exc, capture)
        except Exception as probe_exc:
            guard.report(where, probe_exc)
        _record(sampler, kind, scope, True, where)

    return fail
