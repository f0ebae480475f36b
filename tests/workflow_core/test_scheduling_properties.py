"""Property: on any DAG of branches, joins and in-place variable writes, the parallel scheduler
produces exactly what the sequential FIFO scheduler of SPEC §5.4 produces (reply, node order)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wfc_support import edge, make_app, node, runner_for

from workflow_core.dsl import DifyApp


@st.composite
def dags(draw: st.DrawFn) -> tuple[DifyApp, str]:
    count = draw(st.integers(min_value=2, max_value=9))
    nodes: list[dict[str, Any]] = [
        node("s", "start", variables=[{"variable": "x", "type": "text-input"}])
    ]
    edges: list[dict[str, Any]] = []
    kinds: dict[str, str] = {"s": "start"}
    for i in range(count):
        node_id = f"n{i}"
        kind = draw(st.sampled_from(["if-else", "answer", "assigner"]))
        if kind == "assigner":
            kinds[node_id] = "assigner"
            item = {
                "variable_selector": ["conversation", "count"],
                "input_type": "constant",
                "operation": draw(st.sampled_from(["+=", "*="])),
                "value": draw(st.integers(min_value=2, max_value=3)),
            }
            nodes.append(node(node_id, "assigner", version="2", items=[item]))
        elif kind == "if-else":
            kinds[node_id] = "if-else"
            case = {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [
                    {
                        "variable_selector": ["s", "x"],
                        "comparison_operator": "contains",
                        "value": draw(st.sampled_from("abc")),
                    }
                ],
            }
            nodes.append(node(node_id, "if-else", cases=[case]))
        else:
            kinds[node_id] = "answer"
            text = f"<{node_id}:{{{{#s.x#}}}}:{{{{#conversation.count#}}}}>"
            nodes.append(node(node_id, "answer", answer=text))
        earlier = ["s", *[f"n{j}" for j in range(i)]]
        parents = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=3, unique=True))
        for parent in parents:
            handle = (
                draw(st.sampled_from(["true", "false"])) if kinds[parent] == "if-else" else "source"
            )
            edges.append(edge(parent, node_id, handle))
    count = [{"name": "count", "value": 1, "value_type": "number"}]
    app = make_app(nodes, edges, mode="advanced-chat", conversation_variables=count)
    return app, draw(st.text(alphabet="abcd", min_size=0, max_size=3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_parallel_scheduler_matches_sequential_fifo(case: tuple[DifyApp, str]) -> None:
    app, text = case
    inputs = {"x": text or "z"}
    sequential = runner_for(app, max_workers=1).run(inputs, query="")
    parallel = runner_for(app, max_workers=4).run(inputs, query="")
    assert sequential.status == parallel.status == "succeeded"
    assert parallel.answer == sequential.answer
    assert parallel.node_order() == sequential.node_order()
    assert len(set(parallel.node_order())) == len(parallel.node_order()), "each node runs once"
