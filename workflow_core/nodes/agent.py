"""agent: a function-calling loop over the run's LLM and plugin tools (SPEC §7.19).

Every model call goes through ``LLMClient.invoke`` (via ``ctx.invoke_llm``) and every tool call
through ``ToolRunner.invoke``, so the probe sees an llm / tool span per step. The loop stops when
the model answers without tool calls, or after ``maximum_iterations`` tool rounds (parameter,
else ``FLOWSCOPE_AGENT_MAX_STEPS``, default 5), when one last call without tools asks for the
answer.

Strategies: Dify's built-in ``function_calling`` / ``ReAct`` and third-party strategy plugins
(AgentFlow's ``TOD``) all run this same loop. Well-known parameters are ``model``, ``tools``,
``instruction``, ``query`` and ``maximum_iterations``; any other strategy parameter (a task
schema, a storage key) is given to the model in the system message, so it can act on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.errors import ProviderError
from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.nodes.tool import ParameterValue, parameter_selectors, resolve_parameter
from workflow_core.providers.base import ChatMessage, LLMRequest, LLMResponse, ToolSpec
from workflow_core.tools.base import ToolError, ToolRunner
from workflow_core.tools.registry import default_tool_runner
from workflow_core.variables import Selector

if TYPE_CHECKING:
    from workflow_core.context import RunContext

DEFAULT_MAX_STEPS = 5
MAX_STEPS_LIMIT = 50
_KNOWN = frozenset({"model", "tools", "instruction", "query", "maximum_iterations"})


class AgentData(NodeData):
    agent_strategy_provider_name: str = ""
    agent_strategy_name: str = "function_calling"
    agent_strategy_label: str = ""
    agent_parameters: dict[str, ParameterValue] = Field(default_factory=dict)


class AgentTool(BaseModel):
    """One entry of the ``tools`` parameter (Dify's ``array[tools]``)."""

    model_config = ConfigDict(extra="ignore")

    provider_name: str = Field(alias="provider_name")
    tool_name: str
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class _Bound:
    provider: str
    tool: str
    fixed: dict[str, Any]


@register("agent")
class AgentNode(Node[AgentData]):
    data_model = AgentData

    def validate(self) -> None:
        registry = default_tool_runner().registry
        for tool in self._tools_declared():
            try:
                registry.check(tool.provider_name, tool.tool_name)
            except ToolError as exc:
                raise self.dsl_error("agent_parameters.tools", str(exc)) from exc
        model = self.config.agent_parameters.get("model")
        if model is None or not isinstance(model.value, dict) or "model" not in model.value:
            raise self.dsl_error("agent_parameters.model", "a model selector {provider, model}")

    def selectors(self) -> Iterator[tuple[str, Selector]]:
        yield from parameter_selectors(self.config.agent_parameters, "agent_parameters")

    def _tools_declared(self) -> list[AgentTool]:
        param = self.config.agent_parameters.get("tools")
        if param is None or not isinstance(param.value, list):
            return []
        tools = [AgentTool.model_validate(t) for t in param.value if isinstance(t, dict)]
        return [t for t in tools if t.enabled]

    def run(self, ctx: RunContext) -> NodeOutcome:
        params: dict[str, Any] = {}
        for name, param in self.config.agent_parameters.items():
            try:
                params[name] = resolve_parameter(ctx, name, param)
            except KeyError as exc:
                raise self.node_error(
                    f"agent parameter {name!r}: variable {exc} not found"
                ) from exc
            except ValueError as exc:  # a rendered JSON constant that no longer parses
                raise self.node_error(f"parameter {name!r}: {exc}") from exc
        runner: ToolRunner = ctx.services.tools or default_tool_runner()
        bound, specs = self._tool_specs(runner)
        model = params["model"]
        messages = [
            ChatMessage("system", self._system_prompt(params)),
            ChatMessage("user", str(params.get("query") or "")),
        ]
        max_steps = self._max_steps(params)
        usage = {"input_tokens": 0, "output_tokens": 0}
        steps: list[dict[str, Any]] = []
        response = self._call(ctx, model, messages, specs, usage)
        while response.tool_calls and len(steps) < max_steps:
            messages.append(ChatMessage("assistant", response.text, tool_calls=response.tool_calls))
            for call in response.tool_calls:
                result = self._run_tool(runner, bound, call.name, call.arguments)
                steps.append({"tool": call.name, "arguments": call.arguments, "result": result})
                messages.append(ChatMessage("tool", result, tool_call_id=call.id))
            # Out of steps: one last call without tools asks for the answer.
            offer = specs if len(steps) < max_steps else ()
            response = self._call(ctx, model, messages, offer, usage)
        outputs = {
            "text": response.text,
            "usage": {**usage, "total_tokens": usage["input_tokens"] + usage["output_tokens"]},
            "files": [],
            "json": [{"strategy": self.config.agent_strategy_name, "steps": steps}],
        }
        return NodeOutcome(
            outputs=outputs, inputs={k: v for k, v in params.items() if k != "tools"}
        )

    def _call(
        self,
        ctx: RunContext,
        model: dict[str, Any],
        messages: list[ChatMessage],
        tools: tuple[ToolSpec, ...],
        usage: dict[str, int],
    ) -> LLMResponse:
        request = LLMRequest(
            model=str(model.get("model", "")),
            provider=str(model.get("provider", "")),
            messages=tuple(messages),
            parameters=dict(model.get("completion_params") or {}),
            tools=tools,
            node_id=self.id,
            node_type=self.type,
        )
        try:
            response = ctx.invoke_llm(request)
        except ProviderError as exc:
            raise self.node_error(f"model call failed: {exc}") from exc
        usage["input_tokens"] += response.usage.input_tokens
        usage["output_tokens"] += response.usage.output_tokens
        return response

    def _tool_specs(self, runner: ToolRunner) -> tuple[dict[str, _Bound], tuple[ToolSpec, ...]]:
        bound: dict[str, _Bound] = {}
        specs: list[ToolSpec] = []
        for tool in self._tools_declared():
            try:
                spec = runner.registry.manifest(tool.provider_name).tool(tool.tool_name)
            except ToolError as exc:
                raise self.node_error(str(exc)) from exc
            if spec is None:
                raise self.node_error(f"tool {tool.provider_name}/{tool.tool_name} not found")
            name = (
                tool.tool_name
                if tool.tool_name not in bound
                else f"{tool.provider_name}_{tool.tool_name}"
            )
            fixed = {
                k: v.get("value") if isinstance(v, dict) else v for k, v in tool.settings.items()
            }
            bound[name] = _Bound(tool.provider_name, tool.tool_name, fixed)
            specs.append(
                ToolSpec(name=name, description=spec.description, parameters=spec.parameters)
            )
        return bound, tuple(specs)

    def _run_tool(
        self, runner: ToolRunner, bound: dict[str, _Bound], name: str, arguments: dict[str, Any]
    ) -> str:
        target = bound.get(name)
        if target is None:
            return f"error: no tool named {name!r}; available: {sorted(bound)}"
        try:
            result = runner.invoke(target.provider, target.tool, {**target.fixed, **arguments})
        except ToolError as exc:
            # The model sees the failure and may recover; the node does not fail.
            return f"error: {exc}"
        if result.text:
            return result.text
        return json.dumps(list(result.json), ensure_ascii=False)

    def _system_prompt(self, params: dict[str, Any]) -> str:
        parts = [str(params.get("instruction") or "You are a helpful agent.")]
        extra = {k: v for k, v in params.items() if k not in _KNOWN}
        if extra:
            parts.append(
                f"Strategy {self.config.agent_strategy_name} parameters:\n"
                + json.dumps(extra, ensure_ascii=False, indent=2)
            )
        return "\n\n".join(parts)

    def _max_steps(self, params: dict[str, Any]) -> int:
        raw = params.get("maximum_iterations")
        if raw in (None, ""):
            raw = os.environ.get("FLOWSCOPE_AGENT_MAX_STEPS")
        try:
            steps = int(raw) if raw not in (None, "") else DEFAULT_MAX_STEPS
        except (TypeError, ValueError) as exc:
            raise self.node_error(f"maximum_iterations must be an integer, got {raw!r}") from exc
        if not 1 <= steps <= MAX_STEPS_LIMIT:
            raise self.node_error(f"maximum_iterations must be 1..{MAX_STEPS_LIMIT}, got {steps}")
        return steps
