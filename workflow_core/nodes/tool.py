"""tool: call a plugin tool through ``ToolRunner.invoke`` (SPEC §7.16).

The DSL's ``provider_id`` / ``tool_name`` select a plugin tool; a missing plugin or tool fails
validation with the node named. ``tool_configurations`` (scalars, or ``{type: constant, value}``
after Dify's editor migration) and ``tool_parameters`` (``mixed`` / ``constant`` rendered as
text, ``variable`` read from a selector) are merged into the call's parameters. Credentials are
the plugin's business (env / plugins config), never the DSL's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.tools.base import ToolError, ToolResult, ToolRunner
from workflow_core.tools.registry import default_tool_runner
from workflow_core.variables import Selector, template_selectors

if TYPE_CHECKING:
    from workflow_core.context import RunContext


class ParameterValue(BaseModel):
    """``{type: mixed|constant|variable, value}`` as tool and agent nodes carry them."""

    model_config = ConfigDict(extra="ignore")

    #: ``mixed`` / ``constant`` / ``variable``; other kinds newer exports write (``array[tools]``,
    #: ``model-selector``…) carry their value inline and are treated as constants.
    type: str = "constant"
    value: Any = None


def resolve_parameter(ctx: RunContext, name: str, param: ParameterValue) -> Any:
    """The value of one parameter; a ``variable`` whose selector is missing raises KeyError."""
    if param.type == "variable":
        if not isinstance(param.value, list):
            raise ValueError(f"parameter {name}: a variable parameter needs a selector list")
        return ctx.require(param.value)
    if isinstance(param.value, str):
        return ctx.render(param.value)
    if param.value is None or param.type == "mixed":
        return param.value
    # Non-string constants: JSON-encode, render references, decode back (SPEC §7.19).
    encoded = json.dumps(param.value, ensure_ascii=False)
    if "{{#" not in encoded:
        return param.value
    rendered = ctx.render(encoded)
    try:
        return json.loads(rendered)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON after rendering its references: {rendered[:200]!r}") from exc


def parameter_selectors(
    params: dict[str, ParameterValue], field: str
) -> Iterator[tuple[str, Selector]]:
    for name, param in params.items():
        where = f"{field}.{name}.value"
        if param.type == "variable" and isinstance(param.value, list) and len(param.value) >= 2:
            yield where, tuple(str(p) for p in param.value)
        elif param.value is not None:
            text = param.value if isinstance(param.value, str) else json.dumps(param.value)
            for selector in template_selectors(text):
                yield where, selector


class ToolData(NodeData):
    provider_id: str
    provider_name: str = ""
    provider_type: str = "builtin"
    tool_name: str
    tool_label: str = ""
    tool_configurations: dict[str, Any] = Field(default_factory=dict)
    tool_parameters: dict[str, ParameterValue] = Field(default_factory=dict)


def tool_result_outputs(result: ToolResult) -> dict[str, Any]:
    return {
        **result.variables,
        "text": result.text,
        "files": list(result.files),
        "json": list(result.json) if result.json else [{"data": []}],
    }


@register("tool")
class ToolNode(Node[ToolData]):
    data_model = ToolData
    retryable = True

    def validate(self) -> None:
        try:
            default_tool_runner().registry.check(self.config.provider_id, self.config.tool_name)
        except ToolError as exc:
            raise self.dsl_error("provider_id", str(exc)) from exc

    def selectors(self) -> Iterator[tuple[str, Selector]]:
        yield from parameter_selectors(self.config.tool_parameters, "tool_parameters")

    def parameters(self, ctx: RunContext) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, raw in self.config.tool_configurations.items():
            value = raw.get("value") if isinstance(raw, dict) and "type" in raw else raw
            if value is not None:
                params[name] = value
        for name, param in self.config.tool_parameters.items():
            try:
                value = resolve_parameter(ctx, name, param)
            except KeyError as exc:
                raise self.node_error(f"tool parameter {name!r}: variable {exc} not found") from exc
            except ValueError as exc:  # a rendered JSON constant that no longer parses
                raise self.node_error(f"parameter {name!r}: {exc}") from exc
            if value is not None:
                params[name] = value
        return params

    def run(self, ctx: RunContext) -> NodeOutcome:
        params = self.parameters(ctx)
        runner: ToolRunner = ctx.services.tools or default_tool_runner()
        try:
            result = runner.invoke(self.config.provider_id, self.config.tool_name, params)
        except ToolError as exc:
            raise self.node_error(str(exc)) from exc
        return NodeOutcome(outputs=tool_result_outputs(result), inputs=params)
