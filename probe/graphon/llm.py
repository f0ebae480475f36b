"""``chat {model}`` spans for graphon's own model runtime, ``SlimLLM`` (the Slim plugin daemon).

``SlimLLM.invoke_llm`` / ``invoke_llm_with_structured_output`` return a generator of chunks when
``stream=True`` (what graphon's LLM and question-classifier nodes ask for) and the model call
happens while the caller iterates it, so the span must live until the stream ends: the wrapper
returns a generator that runs each step with the span active and ends the span — with the usage
of the last chunk that carried one — when the stream is exhausted, fails or is closed early.
``stream=False`` (parameter-extractor) is an ordinary call.

Attributes are the same as for workflow_core's ``LLMClient.invoke`` (docs/contracts.md), and the
call is counted for exact usage totals (``probe.sampling.usage``) whether its span is kept or not.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Generator, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context

from probe import guard, semconv
from probe._wrappers import _SCOPE, Runtime
from probe.spec import Scope

WHERE = "graphon.dsl.slim.llm:SlimLLM.invoke_llm"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def make_llm_wrapper(runtime_source: Callable[[], Runtime | None]) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        rt = runtime_source()
        if rt is None:
            return wrapped(*args, **kwargs)
        try:
            call = _LLMCall(rt, instance)
        except Exception as exc:
            guard.report(WHERE, exc)
            return wrapped(*args, **kwargs)
        with call.active():
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                call.end(None, exc)
                raise
        if isinstance(result, Iterator):
            return call.stream(result)
        call.end(getattr(result, "usage", None), None, getattr(result, "model", None))
        return result

    return wrapper


class _LLMCall:
    """One model call: its scope, its span when kept, and its end."""

    def __init__(self, rt: Runtime, instance: Any) -> None:
        self.rt = rt
        parent = _SCOPE.get()
        run = parent.run if parent is not None else None
        node_type = parent.node_type if parent is not None else None
        self.scope = Scope(parent, run, node_type)
        self.provider = _text(getattr(instance, "provider", "")) or "unknown"
        self.model = _text(getattr(instance, "model_name", "")) or "unknown"
        self.span: Span | None = None
        parent_sampled = parent.sampled if parent is not None else False
        decision = rt.sampler.decide(
            semconv.KIND_LLM, self.scope.workflow, node_type, self.scope.trace_id, parent_sampled
        )
        if decision.sampled:
            attrs = self.scope.inherited()
            attrs.update(
                {
                    semconv.SPAN_KIND: semconv.KIND_LLM,
                    semconv.GEN_AI_OPERATION_NAME: "chat",
                    semconv.GEN_AI_PROVIDER_NAME: self.provider,
                    semconv.GEN_AI_REQUEST_MODEL: self.model,
                    semconv.SAMPLING_RATE: decision.rate,
                    semconv.SAMPLING_REASON: decision.reason,
                }
            )
            kept = parent if parent is not None and parent.sampled else None
            kept = kept or (parent.kept_ancestor() if parent is not None else None)
            context = None
            if kept is not None and kept.span is not None:
                context = set_span_in_context(kept.span)
            elif run is not None:
                context = run.detached_parent()
            self.span = rt.tracer.start_span(f"chat {self.model}", context, SpanKind.CLIENT, attrs)
            self.scope.span, self.scope.sampled = self.span, True

    def active(self) -> _Active:
        return _Active(self)

    def stream(self, chunks: Iterator[Any]) -> Generator[Any, None, None]:
        usage, model = None, None
        try:
            while True:
                with self.active():
                    try:
                        chunk = next(chunks)
                    except StopIteration:
                        break
                delta = getattr(chunk, "delta", None)
                usage = getattr(delta, "usage", None) or usage
                model = getattr(chunk, "model", None) or model
                yield chunk
        except GeneratorExit:
            self.end(usage, None, model)
            raise
        except BaseException as exc:
            self.end(usage, exc, model)
            raise
        self.end(usage, None, model)

    def end(self, usage: Any, error: BaseException | None, model: Any = None) -> None:
        try:
            inputs = int(getattr(usage, "prompt_tokens", 0) or 0)
            outputs = int(getattr(usage, "completion_tokens", 0) or 0)
            self._count(inputs, outputs, _text(model) or self.model)
            span = self.span
            if span is not None:
                span.set_attributes(
                    {
                        semconv.GEN_AI_USAGE_INPUT_TOKENS: inputs,
                        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: outputs,
                        semconv.GEN_AI_RESPONSE_MODEL: _text(model) or self.model,
                    }
                )
                if error is not None:
                    span.record_exception(error, escaped=True)
                    span.set_attribute(semconv.ERROR_TYPE, type(error).__qualname__)
                    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                span.end()
            self.rt.sampler.record(
                semconv.KIND_LLM, self.scope.workflow, self.scope.node_type, error is not None
            )
        except Exception as exc:
            guard.report(WHERE, exc)

    def _count(self, inputs: int, outputs: int, model: str) -> None:
        try:
            hook = importlib.import_module("probe.sampling.usage").record_llm_usage
        except (ImportError, AttributeError):
            return
        own = self.scope.inherited()
        hook(
            workflow=self.scope.workflow,
            node_id=_text(own.get(semconv.NODE_ID)) or None,
            node_type=self.scope.node_type,
            provider=self.provider,
            model=model,
            input_tokens=inputs,
            output_tokens=outputs,
            cached_input_tokens=0,
        )


class _Active:
    """Makes the call's span current (OpenTelemetry and probe scope) for one step."""

    def __init__(self, call: _LLMCall) -> None:
        self.call = call
        self.tokens: tuple[Any, Any] | None = None

    def __enter__(self) -> None:
        span = self.call.span
        otel_token = otel_context.attach(set_span_in_context(span)) if span is not None else None
        self.tokens = (_SCOPE.set(self.call.scope), otel_token)

    def __exit__(self, *exc: object) -> None:
        if self.tokens is None:
            return
        scope_token, otel_token = self.tokens
        if otel_token is not None:
            otel_context.detach(otel_token)
        _SCOPE.reset(scope_token)
