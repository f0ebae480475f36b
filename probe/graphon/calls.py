"""Spans for graphon calls that answer with a generator (model streams, tool message streams).

The work happens while the caller iterates, so :func:`wrap_streaming` returns a generator that
runs each step with the call's span active (OpenTelemetry context and probe scope) and ends the
span when the stream is exhausted, fails or is closed early. A call that returns a plain value
ends its span at once. The parent is the probe scope current at the call (the graphon node whose
context the engine layer activated on this worker thread).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context

from probe import guard, semconv
from probe._wrappers import _SCOPE, Runtime
from probe.spec import Attributes, Scope

# (runtime, call scope, instance, kwargs) -> (span name, start attributes)
Describe = Callable[[Scope, Any, dict[str, Any]], tuple[str, Attributes]]


class Tracker:
    """What a call learns from its result or stream items, turned into end attributes."""

    def item(self, item: Any) -> None:
        """One streamed item (or the whole result of a non-streaming call)."""

    def end(self, call: Call, error: BaseException | None) -> Attributes:
        return {}


class Call:
    """One traced call: its scope, its span when kept, and its end."""

    def __init__(
        self, rt: Runtime, kind: str, instance: Any, kwargs: dict[str, Any], describe: Describe
    ) -> None:
        self.rt = rt
        self.kind = kind
        parent = _SCOPE.get()
        run = parent.run if parent is not None else None
        self.scope = Scope(parent, run, parent.node_type if parent is not None else None)
        self.span: Span | None = None
        decision = rt.sampler.decide(
            kind,
            self.scope.workflow,
            self.scope.node_type,
            self.scope.trace_id,
            parent.sampled if parent is not None else False,
        )
        if not decision.sampled:
            return
        name, attrs = describe(self.scope, instance, kwargs)
        attributes = self.scope.inherited()
        attributes.update(attrs)
        attributes[semconv.SPAN_KIND] = kind
        attributes[semconv.SAMPLING_RATE] = decision.rate
        attributes[semconv.SAMPLING_REASON] = decision.reason
        kept = parent if parent is not None and parent.sampled else None
        kept = kept or (parent.kept_ancestor() if parent is not None else None)
        context = None
        if kept is not None and kept.span is not None:
            context = set_span_in_context(kept.span)
        elif run is not None:
            context = run.detached_parent()
        self.span = rt.tracer.start_span(name, context, SpanKind.CLIENT, attributes)
        self.scope.span, self.scope.sampled = self.span, True

    def activate(self) -> tuple[Any, Any]:
        span = self.span
        otel_token = otel_context.attach(set_span_in_context(span)) if span is not None else None
        return _SCOPE.set(self.scope), otel_token

    @staticmethod
    def deactivate(tokens: tuple[Any, Any]) -> None:
        scope_token, otel_token = tokens
        if otel_token is not None:
            otel_context.detach(otel_token)
        _SCOPE.reset(scope_token)

    def end(self, tracker: Tracker, error: BaseException | None, where: str) -> None:
        try:
            attrs = tracker.end(self, error)
            span = self.span
            if span is not None:
                span.set_attributes(attrs)
                if error is not None:
                    span.record_exception(error, escaped=True)
                    span.set_attribute(semconv.ERROR_TYPE, type(error).__qualname__)
                    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                span.end()
            self.rt.sampler.record(
                self.kind, self.scope.workflow, self.scope.node_type, error is not None
            )
        except Exception as exc:
            guard.report(where, exc)


def wrap_streaming(
    kind: str,
    where: str,
    describe: Describe,
    new_tracker: Callable[[Any], Tracker],
    runtime_source: Callable[[], Runtime | None],
) -> Callable[..., Any]:
    """A wrapt wrapper spanning a call and, when it returns an iterator, the whole stream."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        rt = runtime_source()
        if rt is None:
            return wrapped(*args, **kwargs)
        try:
            call = Call(rt, kind, instance, kwargs, describe)
            tracker = new_tracker(instance)
        except Exception as exc:
            guard.report(where, exc)
            return wrapped(*args, **kwargs)
        tokens = call.activate()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.deactivate(tokens)
            call.end(tracker, exc, where)
            raise
        call.deactivate(tokens)
        if isinstance(result, Iterator):
            return _stream(call, tracker, result, where)
        tracker.item(result)
        call.end(tracker, None, where)
        return result

    return wrapper


def _stream(
    call: Call, tracker: Tracker, items: Iterator[Any], where: str
) -> Generator[Any, None, None]:
    try:
        while True:
            tokens = call.activate()
            try:
                item = next(items)
            except StopIteration:
                break
            finally:
                call.deactivate(tokens)
            tracker.item(item)
            yield item
    except GeneratorExit:
        call.end(tracker, None, where)
        raise
    except BaseException as exc:
        call.end(tracker, exc, where)
        raise
    call.end(tracker, None, where)
