"""The agent node's function-calling loop over the LLM seam and plugin tools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ext_support import app_from

from workflow_core.context import Services
from workflow_core.dsl import DifyApp
from workflow_core.errors import DSLError
from workflow_core.runner import WorkflowRunner

CALCULATOR = {"provider_name": "calculator", "tool_name": "calculate", "enabled": True}


def agent_app(
    tools: list[dict[str, Any]],
    max_steps: int | None = None,
    extra: dict[str, Any] | None = None,
) -> DifyApp:
    params: dict[str, Any] = {
        "model": {"type": "constant", "value": {"provider": "openai", "model": "gpt-4o-mini"}},
        "tools": {"type": "array[tools]", "value": tools},  # the kind newer exports write
        "instruction": {"type": "constant", "value": "Use the calculator for arithmetic."},
        "query": {"type": "mixed", "value": "{{#sys.query#}}"},
    }
    if max_steps is not None:
        params["maximum_iterations"] = {"type": "constant", "value": max_steps}
    params.update(extra or {})
    nodes = [
        {"id": "start", "data": {"type": "start", "title": "S", "variables": []}},
        {
            "id": "agent",
            "data": {
                "type": "agent",
                "title": "Agent",
                "agent_strategy_name": "function_calling",
                "agent_parameters": params,
            },
        },
        {"id": "answer", "data": {"type": "answer", "title": "A", "answer": "{{#agent.text#}}"}},
    ]
    return app_from("agent", nodes, [("start", "agent"), ("agent", "answer")], mode="advanced-chat")


def call(expression: str) -> dict[str, Any]:
    return {
        "text": "",
        "tool_calls": [{"name": "calculate", "arguments": {"expression": expression}}],
    }


def test_agent_calls_tool_then_answers_from_its_result(
    make_services: Callable[..., Services],
) -> None:
    services = make_services(script={"agent": [call("6 * 7"), "The answer is 42."]})
    result = WorkflowRunner(agent_app([CALCULATOR]), services=services).run({}, query="6 times 7?")
    assert result.status == "succeeded", result.error
    assert result.answer == "The answer is 42."
    [agent] = [r for r in result.node_results if r.node_id == "agent"]
    steps = agent.outputs["json"][0]["steps"]
    assert steps == [{"tool": "calculate", "arguments": {"expression": "6 * 7"}, "result": "42"}]
    assert len(agent.llm_calls) == 2
    assert agent.outputs["usage"]["total_tokens"] == sum(
        c.usage.input_tokens + c.usage.output_tokens for c in agent.llm_calls
    )


def test_agent_stops_at_the_step_limit_and_asks_for_a_final_answer(
    make_services: Callable[..., Services],
) -> None:
    # A model that never stops calling tools.
    services = make_services(script={"agent": [call("1 + 1")] * 3 + ["Giving up: 2."]})
    result = WorkflowRunner(agent_app([CALCULATOR], max_steps=3), services=services).run(
        {}, query="loop"
    )
    assert result.status == "succeeded", result.error
    [agent] = [r for r in result.node_results if r.node_id == "agent"]
    assert len(agent.outputs["json"][0]["steps"]) == 3
    assert len(agent.llm_calls) == 4  # three tool rounds + the final call without tools
    assert result.answer == "Giving up: 2."


def test_tool_errors_go_back_to_the_model_not_the_run(
    make_services: Callable[..., Services],
) -> None:
    services = make_services(script={"agent": [call("import os"), "Could not compute."]})
    result = WorkflowRunner(agent_app([CALCULATOR]), services=services).run({}, query="x")
    assert result.status == "succeeded", result.error
    [agent] = [r for r in result.node_results if r.node_id == "agent"]
    assert agent.outputs["json"][0]["steps"][0]["result"].startswith("error: ")


def test_agent_with_unknown_tool_fails_validation() -> None:
    with pytest.raises(DSLError, match=r"node agent \(agent\): field 'agent_parameters.tools'"):
        WorkflowRunner(agent_app([{"provider_name": "wolfram", "tool_name": "ask"}]))


def test_invalid_step_limit_fails_the_node(make_services: Callable[..., Services]) -> None:
    result = WorkflowRunner(agent_app([CALCULATOR], max_steps=0), services=make_services()).run(
        {}, query="x"
    )
    assert result.status == "failed"
    assert "maximum_iterations must be 1..50, got 0" in (result.error or "")


def test_json_constant_broken_by_a_rendered_value_fails_clearly(
    make_services: Callable[..., Services],
) -> None:
    context = {"type": "constant", "value": {"asked": "{{#sys.query#}}"}}
    app = agent_app([CALCULATOR], extra={"context": context})
    result = WorkflowRunner(app, services=make_services()).run({}, query='say "hi"')
    assert result.status == "failed"
    assert "parameter 'context': not JSON after rendering its references" in (result.error or "")
