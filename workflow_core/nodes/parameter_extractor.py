"""parameter-extractor: typed parameters from text via function calling or a JSON prompt
(SPEC §7.13). The node succeeds even when extraction fails; ``__is_success`` says which."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.nodes.llm_prompt import MemoryConfig, ModelConfig, first_json, history_messages
from workflow_core.providers.base import ChatMessage, LLMRequest, ToolSpec
from workflow_core.variables import Selector, to_text

if TYPE_CHECKING:
    from workflow_core.context import RunContext

TOOL_NAME = "extract_parameters"
_JSON_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "select": {"type": "string"},
    "number": {"type": "number"},
    "bool": {"type": "boolean"},
    "boolean": {"type": "boolean"},
    "array[string]": {"type": "array", "items": {"type": "string"}},
    "array[number]": {"type": "array", "items": {"type": "number"}},
    "array[object]": {"type": "array", "items": {"type": "object"}},
    "array[boolean]": {"type": "array", "items": {"type": "boolean"}},
}
_DEFAULTS: dict[str, Any] = {
    "string": "",
    "select": "",
    "number": 0,
    "bool": False,
    "boolean": False,
}
SYSTEM_PROMPT = """Extract the parameters described by this JSON schema from the user's text and \
answer with one JSON object whose keys are the parameter names.
<parameters_schema>
{schema}
</parameters_schema>
{instruction}"""


class Parameter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    options: list[str] = Field(default_factory=list)


class ExtractorData(NodeData):
    model: ModelConfig
    query: list[str] = Field(default_factory=list)
    reasoning_mode: Literal["prompt", "function_call"] = "prompt"
    instruction: str = ""
    parameters: list[Parameter] = Field(default_factory=list)
    memory: MemoryConfig | None = None


@register("parameter-extractor")
class ParameterExtractorNode(Node[ExtractorData]):
    data_model = ExtractorData

    def validate(self) -> None:
        for i, param in enumerate(self.config.parameters):
            if param.type not in _JSON_TYPES:
                raise self.dsl_error(f"parameters[{i}].type", f"unknown type {param.type!r}")
            if param.name in ("__reason", "__is_success"):
                raise self.dsl_error(f"parameters[{i}].name", f"{param.name} is reserved")

    def selectors(self) -> Iterator[tuple[str, Selector]]:
        yield from super().selectors()
        if len(self.config.query) >= 2:
            yield "query", tuple(self.config.query)

    def schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for p in self.config.parameters:
            prop = dict(_JSON_TYPES[p.type], description=p.description)
            if p.options:
                prop["enum"] = list(p.options)
            props[p.name] = prop
        required = [p.name for p in self.config.parameters if p.required]
        return {"type": "object", "properties": props, "required": required}

    def run(self, ctx: RunContext) -> NodeOutcome:
        query = to_text(ctx.get(self.config.query)) if len(self.config.query) >= 2 else ""
        instruction = ctx.render(self.config.instruction)
        schema = self.schema()
        function_call = self.config.reasoning_mode == "function_call"
        system = (
            f"Extract the requested parameters by calling {TOOL_NAME}.\n{instruction}"
            if function_call
            else SYSTEM_PROMPT.format(
                schema=json.dumps(schema, ensure_ascii=False), instruction=instruction
            )
        )
        messages = [
            ChatMessage(role="system", content=system),
            *history_messages(ctx, self.config.memory),
            ChatMessage(role="user", content=query),
        ]
        tools = (
            (ToolSpec(TOOL_NAME, "Extract parameters from the text", schema),)
            if function_call
            else ()
        )
        response = ctx.invoke_llm(
            LLMRequest(
                model=self.config.model.name,
                provider=self.config.model.provider,
                messages=tuple(messages),
                parameters=dict(self.config.model.completion_params),
                tools=tools,
                response_format="text" if function_call else "json",
                node_id=self.id,
                node_type=self.type,
            )
        )
        raw: Any = next((c.arguments for c in response.tool_calls if c.name == TOOL_NAME), None)
        if raw is None:
            raw = first_json(response.text)
        outputs, reason = self._coerce(raw)
        outputs["__is_success"] = 0 if reason else 1
        outputs["__reason"] = reason
        outputs["__usage"] = {
            "prompt_tokens": response.usage.input_tokens,
            "completion_tokens": response.usage.output_tokens,
        }
        return NodeOutcome(outputs=outputs, inputs={"query": query, "instruction": instruction})

    def _coerce(self, raw: Any) -> tuple[dict[str, Any], str | None]:
        params = self.config.parameters
        if not isinstance(raw, dict):
            return {p.name: _default(p.type) for p in params}, "no JSON object in the model output"
        problems: list[str] = []
        if len(raw) != len(params):
            problems.append(f"expected {len(params)} parameters, got {len(raw)}")
        outputs: dict[str, Any] = {}
        for p in params:
            if p.name not in raw:
                if p.required:
                    problems.append(f"required parameter {p.name} missing")
                outputs[p.name] = _default(p.type)
                continue
            value = _coerce(p.type, raw[p.name])
            if value is None:
                problems.append(f"parameter {p.name} is not a {p.type}")
                value = _default(p.type)
            elif p.options and value not in p.options:
                problems.append(f"parameter {p.name} must be one of {p.options}")
            outputs[p.name] = value
        return outputs, "; ".join(problems) or None


def _default(kind: str) -> Any:
    return _DEFAULTS.get(kind, [])


def _coerce(kind: str, value: Any) -> Any:
    if kind in ("string", "select"):
        return value if isinstance(value, str) else None
    if kind == "number":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value))
        except ValueError:
            return None
        return int(number) if number.is_integer() else number
    if kind == "object":
        return value if isinstance(value, dict) else None
    if kind in ("bool", "boolean"):
        return bool(value) if isinstance(value, bool | int) else None
    if not isinstance(value, list):
        return None
    element = kind[len("array[") : -1]
    return [v for v in (_coerce(element, x) for x in value) if v is not None]
