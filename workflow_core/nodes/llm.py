"""llm: assembles the prompt (context, memory) and calls the model (SPEC §7.4).

Context substitution replaces the whole ``{{#context#}}`` token (the older Dify behaviour; the
brace-leaving quirk is not reproduced). Vision is off: files are not attached.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.nodes.llm_prompt import (
    MemoryConfig,
    ModelConfig,
    history_messages,
    memory_query,
    render_jinja,
)
from workflow_core.providers.base import ChatMessage, LLMRequest

if TYPE_CHECKING:
    from workflow_core.context import RunContext

_THINK = re.compile(r"<think>(.*?)</think>\s*", re.S)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


class PromptMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"] = "user"
    text: str = ""
    edition_type: Literal["basic", "jinja2"] = "basic"
    jinja2_text: str = ""


class ContextConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enabled: bool = False
    variable_selector: list[str] = Field(default_factory=list)


class JinjaVariable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    variable: str
    value_selector: list[str] = Field(default_factory=list)


class PromptConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    jinja2_variables: list[JinjaVariable] = Field(default_factory=list)


class LLMData(NodeData):
    model: ModelConfig
    prompt_template: list[PromptMessage] | PromptMessage = Field(default_factory=list)
    context: ContextConfig = Field(default_factory=ContextConfig)
    memory: MemoryConfig | None = None
    prompt_config: PromptConfig = Field(default_factory=PromptConfig)
    structured_output_enabled: bool = False
    reasoning_format: Literal["tagged", "separated"] = "tagged"


@register("llm")
class LLMNode(Node[LLMData]):
    data_model = LLMData
    retryable = True

    def validate(self) -> None:
        if not self.config.model.name:
            raise self.dsl_error("model.name", "a model name is required")

    def run(self, ctx: RunContext) -> NodeOutcome:
        messages = self._messages(ctx)
        model = self.config.model
        request = LLMRequest(
            model=model.name,
            provider=model.provider,
            messages=tuple(messages),
            parameters=dict(model.completion_params),
            response_format="json" if self.config.structured_output_enabled else "text",
            node_id=self.id,
            node_type=self.type,
        )
        response = ctx.invoke_llm(request)
        text = response.text
        reasoning = "".join(_THINK.findall(text))
        if self.config.reasoning_format == "separated":
            text = _THINK.sub("", text)
        outputs: dict[str, Any] = {
            "text": text,
            "reasoning_content": reasoning,
            "usage": {
                "prompt_tokens": response.usage.input_tokens,
                "completion_tokens": response.usage.output_tokens,
                "total_tokens": response.usage.total_tokens,
                "model": response.model,
            },
            "finish_reason": response.finish_reason,
        }
        if self.config.structured_output_enabled:
            outputs["structured_output"] = _parse_json(text)
        prompt = [{"role": m.role, "text": m.content} for m in messages]
        return NodeOutcome(outputs=outputs, inputs={"prompt": prompt, "model": model.name})

    def _messages(self, ctx: RunContext) -> list[ChatMessage]:
        context = self._context(ctx)
        templates = self.config.prompt_template
        if isinstance(templates, PromptMessage):  # completion mode: one text prompt
            templates = [templates.model_copy(update={"role": "user"})]
        jinja_vars = {
            v.variable: ctx.get(v.value_selector)
            for v in self.config.prompt_config.jinja2_variables
        }
        messages: list[ChatMessage] = []
        for template in templates:
            if template.edition_type == "jinja2":
                text = render_jinja(template.jinja2_text, jinja_vars)
            else:
                raw = template.text
                if context is not None:
                    raw = raw.replace("{{#context#}}", context)
                text = ctx.render(raw, strict=True)
            if text:
                messages.append(ChatMessage(role=template.role, content=text))
        messages += history_messages(ctx, self.config.memory)
        messages += memory_query(ctx, self.config.memory)
        return messages

    def _context(self, ctx: RunContext) -> str | None:
        config = self.config.context
        if not config.enabled or len(config.variable_selector) < 2:
            return None
        value = ctx.get(config.variable_selector)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            parts: list[str] = []
            for item in value:
                if isinstance(item, str):
                    parts.append(item)
                elif isinstance(item, dict) and "content" in item:
                    if item.get("summary"):
                        parts.append(str(item["summary"]))
                    parts.append(str(item["content"]))
                else:
                    raise self.node_error(
                        "context items must be strings or objects with 'content', got "
                        f"{type(item).__name__}"
                    )
            return "\n".join(parts)
        return json.dumps(value, ensure_ascii=False)


def _parse_json(text: str) -> dict[str, Any]:
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    try:
        value = json.loads(candidate)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}
