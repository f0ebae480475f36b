"""Model selection and prompt assembly shared by the llm, question-classifier and
parameter-extractor nodes (SPEC §7.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from workflow_core.providers.base import ChatMessage

if TYPE_CHECKING:
    from workflow_core.context import RunContext

_JINJA = SandboxedEnvironment(autoescape=False)


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: str = ""
    name: str = ""
    mode: Literal["chat", "completion"] = "chat"
    completion_params: dict[str, Any] = Field(default_factory=dict)


class MemoryWindow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enabled: bool = False
    size: int = 10


class MemoryConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query_prompt_template: str = ""
    window: MemoryWindow = Field(default_factory=MemoryWindow)


def history_messages(ctx: RunContext, memory: MemoryConfig | None) -> list[ChatMessage]:
    """Earlier turns of the conversation as alternating user/assistant messages."""
    if memory is None or not ctx.history:
        return []
    turns = ctx.history[-memory.window.size :] if memory.window.enabled else ctx.history
    messages: list[ChatMessage] = []
    for turn in turns:
        messages.append(ChatMessage(role="user", content=turn.query))
        messages.append(ChatMessage(role="assistant", content=turn.reply))
    return messages


def memory_query(ctx: RunContext, memory: MemoryConfig | None) -> list[ChatMessage]:
    """The final user message of a node with memory: the query template or ``sys.query``."""
    if memory is None:
        return []
    template = memory.query_prompt_template
    text = ctx.render(template, strict=True) if template else str(ctx.get(["sys", "query"]) or "")
    return [ChatMessage(role="user", content=text)] if text else []


def render_jinja(template: str, variables: dict[str, Any]) -> str:
    try:
        return _JINJA.from_string(template).render(**variables)
    except jinja2.TemplateError as exc:
        raise ValueError(f"jinja2 prompt failed: {exc}") from exc


_DECODER = __import__("json").JSONDecoder()


def first_json(text: str, opener: str = "{") -> Any:
    """The first balanced JSON value starting with ``opener`` in ``text``; ``None`` if none.

    ``<think>`` blocks are skipped; fenced blocks work because the fence is just text around it.
    """
    if "</think>" in text:
        text = text.split("</think>", 1)[1]
    index = text.find(opener)
    while index != -1:
        try:
            value, _ = _DECODER.raw_decode(text, index)
            return value
        except ValueError:
            index = text.find(opener, index + 1)
    return None
