"""``chat {model}`` spans for graphon's own model runtime, ``SlimLLM`` (the Slim plugin daemon).

``SlimLLM.invoke_llm`` / ``invoke_llm_with_structured_output`` stream chunks through a generator
when ``stream=True`` (graphon's LLM and question-classifier nodes) — see :mod:`.calls` — and
return an ``LLMResult`` when ``stream=False`` (parameter-extractor). Attributes are those of
workflow_core's ``LLMClient.invoke`` (docs/contracts.md); usage is the last chunk's that carried
one, and every call is counted for exact usage totals (``probe.sampling.usage``) whether its span
is kept or not.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from probe import semconv
from probe._wrappers import Runtime
from probe.graphon.calls import Call, Tracker, wrap_streaming
from probe.spec import Attributes, Scope

WHERE = "graphon.dsl.slim.llm:SlimLLM.invoke_llm"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _describe(scope: Scope, instance: Any, kwargs: dict[str, Any]) -> tuple[str, Attributes]:
    model = _text(getattr(instance, "model_name", "")) or "unknown"
    return f"chat {model}", {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_PROVIDER_NAME: _text(getattr(instance, "provider", "")) or "unknown",
        semconv.GEN_AI_REQUEST_MODEL: model,
    }


class _Usage(Tracker):
    def __init__(self, instance: Any) -> None:
        self.provider = _text(getattr(instance, "provider", "")) or "unknown"
        self.model = _text(getattr(instance, "model_name", "")) or "unknown"
        self.usage: Any = None

    def item(self, item: Any) -> None:  # a chunk, or a whole LLMResult
        delta = getattr(item, "delta", None)
        self.usage = getattr(delta, "usage", None) or getattr(item, "usage", None) or self.usage
        self.model = _text(getattr(item, "model", None)) or self.model

    def end(self, call: Call, error: BaseException | None) -> Attributes:
        inputs = int(getattr(self.usage, "prompt_tokens", 0) or 0)
        outputs = int(getattr(self.usage, "completion_tokens", 0) or 0)
        _count(call.scope, self.provider, self.model, inputs, outputs)
        return {
            semconv.GEN_AI_USAGE_INPUT_TOKENS: inputs,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: outputs,
            semconv.GEN_AI_RESPONSE_MODEL: self.model,
        }


def _count(scope: Scope, provider: str, model: str, inputs: int, outputs: int) -> None:
    try:
        hook = importlib.import_module("probe.sampling.usage").record_llm_usage
    except (ImportError, AttributeError):
        return
    node_id = scope.inherited().get(semconv.NODE_ID)
    hook(
        workflow=scope.workflow,
        node_id=_text(node_id) or None,
        node_type=scope.node_type,
        provider=provider,
        model=model,
        input_tokens=inputs,
        output_tokens=outputs,
        cached_input_tokens=0,
    )


def make_llm_wrapper(runtime_source: Callable[[], Runtime | None]) -> Callable[..., Any]:
    return wrap_streaming(semconv.KIND_LLM, WHERE, _describe, _Usage, runtime_source)
