"""The LLM provider seam.

Every model call in the core — llm nodes, question-classifier, parameter-extractor, agent — goes
through :meth:`LLMClient.invoke`. Providers implement :meth:`LLMClient._invoke`; ``invoke`` is the
single public entry point (the probe's ``llm`` span target, see docs/contracts.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call (JSON-schema parameters)."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class LLMRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    provider: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)  # temperature, max_tokens, ...
    tools: tuple[ToolSpec, ...] = ()
    response_format: Literal["text", "json"] = "text"
    # Who is asking: lets scripted responses key on the node, and the probe label the call.
    node_id: str | None = None
    node_type: str | None = None


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class LLMResponse:
    text: str
    model: str
    usage: Usage
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    provider: str = ""


class LLMClient:
    """Base class of every provider. Subclasses implement ``_invoke``."""

    provider_name: str = "unknown"

    def invoke(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` to the model and return its answer with token usage."""
        return self._invoke(request)

    def _invoke(self, request: LLMRequest) -> LLMResponse:  # pragma: no cover - abstract
        raise NotImplementedError
