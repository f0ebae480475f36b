"""The hot path: one wrapper per target — a plain function standing in for an instance method
(:func:`make_method`, the default) or a wrapt wrapper (:func:`make_wrapper`) for anything else.

Order for every call: read the enclosing :class:`~probe.spec.Scope`, let the target build its
own (cheap), ask the sampler. A dropped call then runs the wrapped function directly — no
OpenTelemetry SDK work at all — with only the scope pushed so nested calls keep their node
identity; a kept call gets an SDK span. Either way the sampler's ``record`` sees the call.

Failures of the probe itself are reported through :mod:`probe.guard` and the host call goes on;
the host's own exceptions are re-raised untouched (bare ``raise``), with their traceback.
"""

from __future__ import annotations

import functools
import inspect
import threading
import traceback
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import FunctionType, MappingProxyType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
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


# The wrappers, as source, generated per target (as dataclasses and namedtuple generate their
# methods): a lean method whose parameters are plain (``def execute_node(self, node, ctx)``) gets
# a function with the same parameters — passing them on costs far less than ``*args, **kwargs``
# packing — and the wrapt wrapper is the same body with wrapt's calling convention. Lines for
# hooks a target does not have (``prepare``, ``observe``, ``failed``) are left out. Every name
# the body uses is ``_fs_``-prefixed so no parameter can shadow it. A dropped call gets no SDK
# work at all, only the scope for nested calls; a kept call calls the wrapped function itself,
# between ``_fs_start`` (span started and made current) and ``_fs_end`` / ``_fs_fail``.
_HEAD = """\
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
    if _fs_decision[0]:  # .sampled
        _fs_kept = _fs_start(self, _fs_args, _fs_kwargs, _fs_scope)
        if _fs_kept is None:  # the probe failed (reported): the call runs untraced
            return {forward}
"""
_PREPARE = """\
{indent}_fs_args, _fs_kwargs = _fs_prepare_call(_fs_prepare, _fs_where, self, _fs_args, _fs_kwargs)
"""
_KEPT = """\
        _fs_token = _fs_set_scope(_fs_scope)
        try:
            _fs_result = {call}
        except BaseException as _fs_exc:
            _fs_reset_scope(_fs_token)
            _fs_fail(_fs_kept, _fs_scope, _fs_decision, _fs_exc)
            raise
        _fs_reset_scope(_fs_token)
        _fs_end(_fs_kept, self, _fs_args, _fs_kwargs, _fs_scope, _fs_decision, _fs_result)
        return _fs_result
"""
_DROPPED = """\
    _fs_token = _fs_set_scope(_fs_scope)
    try:
        _fs_result = {call}
    except BaseException:
        _fs_reset_scope(_fs_token)
        _fs_record_error(_fs_sampler, _fs_kind, _fs_scope, True, _fs_where)
        raise
    _fs_reset_scope(_fs_token)
    try:
"""
_OBSERVE = """\
        _fs_observe(_fs_scope, self, _fs_args, _fs_kwargs, _fs_result)
"""
_RECORD = "_fs_record(_fs_kind, _fs_scope.workflow, _fs_scope.node_type, {error})"
_TAIL = """\
    except Exception as _fs_exc:
        _fs_report(_fs_where, _fs_exc)
    return _fs_result
"""


def _source(fields: dict[str, str], target: Target, counts: bool) -> str:
    """The wrapper's source for ``target``: only the lines its hooks need."""
    parts = [_HEAD.format(**fields)]
    if target.prepare is not None:  # inside the span, so a header can name it
        parts.append(_PREPARE.format(indent=" " * 8))
    parts.append(_KEPT.format(**fields))
    if target.prepare is not None:  # the nearest kept span, for a dropped call
        parts.append(_PREPARE.format(indent=" " * 4))
    parts.append(_DROPPED.format(**fields))
    if target.observe is not None:
        parts.append(_OBSERVE)
    success = _RECORD.format(error=False)
    if target.failed is not None:
        parts.append(
            f"        if _fs_failed(_fs_result):\n            {_RECORD.format(error=True)}\n"
        )
        if counts:  # the sampler counted the span in decide: a success needs no record
            parts.append(f"        elif _fs_sampler.record_successes:\n            {success}\n")
        else:
            parts.append(f"        else:\n            {success}\n")
    elif counts:
        parts.append(f"        if _fs_sampler.record_successes:\n            {success}\n")
    else:
        parts.append(f"        {success}\n")
    parts.append(_TAIL)
    return "".join(parts)


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
    start, end, fail = _make_kept(target, runtime)
    return {
        "_fs_kind": target.kind,
        "_fs_critical": target.critical,
        "_fs_enter": target.enter,
        "_fs_observe": target.observe,
        "_fs_prepare": target.prepare,
        "_fs_failed": target.failed,
        "_fs_sampler": sampler,
        "_fs_where": target.target,
        "_fs_start": start,
        "_fs_end": end,
        "_fs_fail": fail,
        "_fs_decide": sampler.decide,
        "_fs_record": sampler.record,
        "_fs_record_error": _record,
        "_fs_report": guard.report,
        "_fs_get_scope": _SCOPE.get,
        "_fs_set_scope": _SCOPE.set,
        "_fs_reset_scope": _SCOPE.reset,
        "_fs_outer_sampled": _outer_sampled,
        "_fs_prepare_call": _prepare_call,
        "_fs_no_kwargs": _NO_KWARGS,
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


# A kept call in flight: its span, start attributes and the context token to detach.
Kept = tuple[Span, Attributes, "Token[Context]"]
Start = Callable[[Any, Args, Kwargs, Scope], "Kept | None"]
End = Callable[[Kept, Any, Args, Kwargs, Scope, Decision, Any], None]
Fail = Callable[[Kept, Scope, Decision, BaseException], None]


def _make_kept(target: Target, runtime: Runtime) -> tuple[Start, End, Fail]:
    """The kept path's three steps around the wrapped call (the wrapper makes the call itself).

    ``start`` names and starts the span and makes it current, returning ``(span, start
    attributes, context token)`` or None when the probe failed; ``end`` / ``fail`` restore the
    context, write the attributes (one locked update), end the span and tell the sampler.
    """
    kind = target.kind
    describe = target.describe
    finish = target.finish
    observe = target.observe
    failed = target.failed
    tracer = runtime.tracer
    sampler = runtime.sampler
    capture = runtime.capture
    trace_ids = runtime.trace_ids
    where = target.target
    span_kind = SpanKind.CLIENT if kind in _CLIENT_KINDS else SpanKind.INTERNAL
    attach = otel_context.attach
    detach = otel_context.detach
    counts = hasattr(sampler, "record_successes")  # counts spans in decide (api.py)
    span_kind_key, rate_key, reason_key = (
        semconv.SPAN_KIND,
        semconv.SAMPLING_RATE,
        semconv.SAMPLING_REASON,
    )

    def start(instance: Any, args: Args, kwargs: Kwargs, scope: Scope) -> Kept | None:
        try:
            name, attributes = describe(scope, instance, args, kwargs, capture)
            parent_context = None
            expected = False
            run = scope.run
            parent = scope.parent
            if (
                run is not None
                and (parent is None or not parent.sampled)
                and scope.kept_ancestor() is None
            ):
                if parent is not None and parent.run is run:
                    parent_context = run.detached_parent()  # the run's root was dropped
                elif run.has_external_parent:
                    parent_context = run.detached_parent()  # the caller's (remote) span
                elif trace_ids is not None:
                    trace_ids.expect(run.trace_id)  # a new trace: use the decided id
                    expected = True
            # Attributes are written once, when the span ends (one locked update, not two).
            span = tracer.start_span(name, parent_context, span_kind)
            if expected:
                trace_ids.expect(None)  # type: ignore[union-attr]  # unused if the SDK found a parent: never leak it
            scope.span = span
            scope.sampled = True
            return span, attributes, attach(set_span_in_context(span))
        except Exception as exc:
            guard.report(where, exc)
            return None

    def end(
        kept: Kept,
        instance: Any,
        args: Args,
        kwargs: Kwargs,
        scope: Scope,
        decision: Decision,
        result: Any,
    ) -> None:
        span, attributes, token = kept
        detach(token)
        error = False
        try:
            if observe is not None:
                observe(scope, instance, args, kwargs, result)
            final = scope.inherited()
            final.update(attributes)
            final.update(finish(scope, instance, args, kwargs, result, capture))
            final[span_kind_key] = kind
            final[rate_key] = decision[1]
            final[reason_key] = decision[2]
            span.set_attributes(final)
            if failed is not None and failed(result):
                error = True
                span.set_status(Status(StatusCode.ERROR))
        except Exception as exc:
            guard.report(where, exc)
        span.end()
        if error or not counts or sampler.record_successes:  # type: ignore[attr-defined]
            _record(sampler, kind, scope, error, where)

    def fail(
        kept: Kept,
        scope: Scope,
        decision: Decision,
        exc: BaseException,
    ) -> None:
        span, attributes, token = kept
        detach(token)
        try:
            _end_with_exception(
                span, scope, kind, attributes, decision[1], decision[2], exc, capture
            )
        except Exception as probe_exc:
            guard.report(where, probe_exc)
        _record(sampler, kind, scope, True, where)

    return start, end, fail
