"""graphon's ``LLMProtocol`` answered by workflow_core's deterministic simulated provider.

graphon documents ``LLMProtocol`` as the integration point for hosts that replace model execution
(Dify plugs its own model manager in there). This adapter translates graphon's prompt messages
into a ``workflow_core`` ``LLMRequest``, asks the same simulated ``LLMClient`` the core uses, and
translates the answer back (text, tool calls, token usage), so a DSL file gets the same model
answers in both engines.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any, Literal

from graphon.model_runtime.entities.common_entities import I18nObject
from graphon.model_runtime.entities.llm_entities import (
    LLMResult,
    LLMResultChunk,
    LLMResultChunkDelta,
    LLMResultChunkWithStructuredOutput,
    LLMResultWithStructuredOutput,
    LLMUsage,
)
from graphon.model_runtime.entities.message_entities import (
    AssistantPromptMessage,
    PromptMessage,
    PromptMessageRole,
    PromptMessageTool,
)
from graphon.model_runtime.entities.model_entities import (
    AIModelEntity,
    FetchFrom,
    ModelFeature,
    ModelPropertyKey,
    ModelType,
)
from graphon.nodes.llm.runtime_protocols import LLMProtocol

from workflow_core.providers.base import (
    ChatMessage,
    LLMClient,
    LLMRequest,
    LLMResponse,
    Role,
    ToolSpec,
)

_ROLES: dict[PromptMessageRole, Role] = {
    PromptMessageRole.SYSTEM: "system",
    PromptMessageRole.USER: "user",
    PromptMessageRole.ASSISTANT: "assistant",
    PromptMessageRole.TOOL: "tool",
}


class StructuredOutputParseError(ValueError):
    """The simulated answer to a structured-output request is not a JSON object."""


class SimulatedLLM(LLMProtocol):
    """One model binding of one graphon node (graphon builds one runtime per node)."""

    def __init__(
        self,
        *,
        client: LLMClient,
        provider: str,
        model_name: str,
        parameters: Mapping[str, Any] | None = None,
        node_id: str | None = None,
        node_type: str | None = None,
        context_size: int = 128_000,
    ) -> None:
        self._client = client
        self._provider = provider
        self._model_name = model_name
        self._parameters = dict(parameters or {})
        self._node_id = node_id
        self._node_type = node_type
        self._context_size = context_size

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def parameters(self) -> Mapping[str, Any]:
        return dict(self._parameters)

    @parameters.setter
    def parameters(self, value: Mapping[str, Any]) -> None:
        self._parameters = dict(value)

    @property
    def stop(self) -> Sequence[str] | None:
        return None

    def get_model_schema(self) -> AIModelEntity:
        return AIModelEntity(
            model=self._model_name,
            label=I18nObject(en_US=self._model_name),
            model_type=ModelType.LLM,
            features=[ModelFeature.TOOL_CALL, ModelFeature.STRUCTURED_OUTPUT],
            fetch_from=FetchFrom.PREDEFINED_MODEL,
            model_properties={
                ModelPropertyKey.MODE: "chat",
                ModelPropertyKey.CONTEXT_SIZE: self._context_size,
            },
        )

    def get_llm_num_tokens(self, prompt_messages: Sequence[PromptMessage]) -> int:
        # Only used for context-window budgeting; a chars/4 estimate is what tokenizers average.
        return sum(len(m.get_text_content()) for m in prompt_messages) // 4 + 1

    def invoke_llm(
        self,
        *,
        prompt_messages: Sequence[PromptMessage],
        model_parameters: Mapping[str, Any],
        tools: Sequence[PromptMessageTool] | None,
        stop: Sequence[str] | None,
        stream: bool,
    ) -> LLMResult | Generator[LLMResultChunk, None, None]:
        _ = stop
        started = time.perf_counter()
        response = self._ask(prompt_messages, model_parameters, tools or (), "text")
        result = _to_result(response, prompt_messages, time.perf_counter() - started)
        return _as_stream(result) if stream else result

    def invoke_llm_with_structured_output(
        self,
        *,
        prompt_messages: Sequence[PromptMessage],
        json_schema: Mapping[str, Any],
        model_parameters: Mapping[str, Any],
        stop: Sequence[str] | None,
        stream: bool,
    ) -> LLMResultWithStructuredOutput | Generator[LLMResultChunkWithStructuredOutput, None, None]:
        _ = stop
        started = time.perf_counter()
        parameters = {**model_parameters, "json_schema": dict(json_schema)}
        response = self._ask(prompt_messages, parameters, (), "json")
        try:
            structured = json.loads(response.text)
        except json.JSONDecodeError as exc:
            raise StructuredOutputParseError(str(exc)) from exc
        if not isinstance(structured, dict):
            raise StructuredOutputParseError("structured output is not a JSON object")
        base = _to_result(response, prompt_messages, time.perf_counter() - started)
        result = LLMResultWithStructuredOutput(**dict(base), structured_output=structured)
        if not stream:
            return result
        return _as_structured_stream(result)

    def is_structured_output_parse_error(self, error: Exception) -> bool:
        return isinstance(error, StructuredOutputParseError)

    def _ask(
        self,
        prompt_messages: Sequence[PromptMessage],
        model_parameters: Mapping[str, Any],
        tools: Sequence[PromptMessageTool],
        response_format: Literal["text", "json"],
    ) -> LLMResponse:
        request = LLMRequest(
            model=self._model_name,
            provider=self._provider,
            messages=tuple(
                ChatMessage(role=_ROLES[m.role], content=m.get_text_content())
                for m in prompt_messages
            ),
            parameters={**self._parameters, **model_parameters},
            tools=tuple(
                ToolSpec(name=t.name, description=t.description, parameters=dict(t.parameters))
                for t in tools
            ),
            response_format=response_format,
            node_id=self._node_id,
            node_type=self._node_type,
        )
        return self._client.invoke(request)


def _to_result(
    response: LLMResponse, prompt_messages: Sequence[PromptMessage], latency_s: float
) -> LLMResult:
    usage = LLMUsage.from_metadata(
        {
            "prompt_tokens": response.usage.input_tokens,
            "completion_tokens": response.usage.output_tokens,
            "total_tokens": response.usage.total_tokens,
            "latency": latency_s,
        }
    )
    message = AssistantPromptMessage(
        content=response.text,
        tool_calls=[
            AssistantPromptMessage.ToolCall(
                id=call.id,
                type="function",
                function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                    name=call.name, arguments=json.dumps(call.arguments)
                ),
            )
            for call in response.tool_calls
        ],
    )
    return LLMResult(
        model=response.model or "",
        prompt_messages=list(prompt_messages),
        message=message,
        usage=usage,
    )


def _as_stream(result: LLMResult) -> Generator[LLMResultChunk, None, None]:
    yield LLMResultChunk(
        model=result.model,
        prompt_messages=result.prompt_messages,
        delta=LLMResultChunkDelta(
            index=0, message=result.message, usage=result.usage, finish_reason="stop"
        ),
    )


def _as_structured_stream(
    result: LLMResultWithStructuredOutput,
) -> Generator[LLMResultChunkWithStructuredOutput, None, None]:
    yield LLMResultChunkWithStructuredOutput(
        model=result.model,
        prompt_messages=result.prompt_messages,
        structured_output=result.structured_output,
        delta=LLMResultChunkDelta(
            index=0, message=result.message, usage=result.usage, finish_reason="stop"
        ),
    )
