"""Iteration and loop containers on synthetic graphs (SPEC §7.17-§7.18)."""

from __future__ import annotations

import contextvars
from typing import Any

from wfc_support import CountingLLM, code_node, edge, llm_node, make_app, node, runner_for


def _start_with_list(values: list[Any]) -> list[dict[str, Any]]:
    """A start node and a code node producing ``values`` as ``src.items``."""
    kind = "array[number]" if all(isinstance(v, int) for v in values) else "array[object]"
    return [
        node("s", "start"),
        code_node(
            "src", f"def main() -> dict:\n    return {{'items': {values!r}}}\n", {"items": kind}
        ),
    ]


def _iteration(
    node_id: str, selector: list[str], output: list[str], **data: Any
) -> list[dict[str, Any]]:
    return [
        node(
            node_id,
            "iteration",
            iterator_selector=selector,
            output_selector=output,
            start_node_id=f"{node_id}start",
            **data,
        ),
        node(f"{node_id}start", "iteration-start", parent=node_id),
    ]


def _end(**outputs: list[str]) -> dict[str, Any]:
    return node(
        "e", "end", outputs=[{"variable": k, "value_selector": v} for k, v in outputs.items()]
    )


def _loop(variable: str, initial: int, count: int, **data: Any) -> list[dict[str, Any]]:
    loop_var = {"label": variable, "var_type": "number", "value_type": "constant", "value": initial}
    return [
        node(
            "lp",
            "loop",
            start_node_id="lpstart",
            loop_count=count,
            loop_variables=[loop_var],
            **data,
        ),
        node("lpstart", "loop-start", parent="lp"),
    ]


def _assign(
    node_id: str, target: list[str], operation: str, value: Any, input_type: str
) -> dict[str, Any]:
    item = {
        "variable_selector": target,
        "input_type": input_type,
        "operation": operation,
        "value": value,
    }
    return node(node_id, "assigner", parent="lp", version="2", items=[item])


def _condition(selector: list[str], operator: str, value: str) -> dict[str, Any]:
    return {"variable_selector": selector, "comparison_operator": operator, "value": value}


def test_loop_breaks_when_its_condition_holds() -> None:
    increment = "def main(c: int) -> dict:\n    return {'next': c + 1}\n"
    nodes = [
        node("s", "start"),
        *_loop(
            "counter",
            0,
            10,
            logical_operator="and",
            break_conditions=[_condition(["lp", "counter"], "≥", "3")],
        ),
        code_node("inc", increment, {"next": "number"}, {"c": ["lp", "counter"]}, parent="lp"),
        _assign("set", ["lp", "counter"], "over-write", ["inc", "next"], "variable"),
        _end(counter=["lp", "counter"], rounds=["lp", "loop_round"]),
    ]
    edges = [edge("s", "lp"), edge("lpstart", "inc"), edge("inc", "set"), edge("lp", "e")]
    result = runner_for(make_app(nodes, edges)).run({})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"counter": 3, "rounds": 3}


def test_loop_end_node_breaks_out_of_the_loop() -> None:
    check = [
        {
            "case_id": "true",
            "logical_operator": "and",
            "conditions": [_condition(["lp", "n"], ">", "7")],
        }
    ]
    nodes = [
        node("s", "start"),
        *_loop("n", 0, 50),
        _assign("add", ["lp", "n"], "+=", 2, "constant"),
        node("check", "if-else", parent="lp", cases=check),
        node("stop", "loop-end", parent="lp"),
        _end(n=["lp", "n"], rounds=["lp", "loop_round"]),
    ]
    edges = [
        edge("s", "lp"),
        edge("lpstart", "add"),
        edge("add", "check"),
        edge("check", "stop", "true"),
        edge("lp", "e"),
    ]
    result = runner_for(make_app(nodes, edges)).run({})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"n": 8, "rounds": 4}


def test_loop_count_bounds_the_rounds() -> None:
    nodes = [
        node("s", "start"),
        *_loop("n", 1, 5),
        _assign("dbl", ["lp", "n"], "*=", 2, "constant"),
        _end(n=["lp", "n"]),
    ]
    edges = [edge("s", "lp"), edge("lpstart", "dbl"), edge("lp", "e")]
    assert runner_for(make_app(nodes, edges)).run({}).outputs == {"n": 32}


def test_parallel_iteration_overlaps_rounds_and_keeps_index_order() -> None:
    items = [1, 2, 3, 4, 5, 6]
    nodes = (
        _start_with_list(items)
        + _iteration("it", ["src", "items"], ["fmt", "output"], is_parallel=True, parallel_nums=3)
        + [
            llm_node("ask", "item {{#it.item#}}", parent="it"),
            node(
                "fmt",
                "template-transform",
                parent="it",
                template="#{{ i }}:{{ t[:20] }}",
                variables=[
                    {"variable": "i", "value_selector": ["it", "item"]},
                    {"variable": "t", "value_selector": ["ask", "text"]},
                ],
            ),
            _end(out=["it", "output"]),
        ]
    )
    edges = [
        edge("s", "src"),
        edge("src", "it"),
        edge("itstart", "ask"),
        edge("ask", "fmt"),
        edge("it", "e"),
    ]
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker")
    llm = CountingLLM(latency_ms=150, probe_var=marker)
    marker.set("outer")
    result = runner_for(make_app(nodes, edges), llm=llm).run({})
    assert result.status == "succeeded", result.error
    assert [o.split(":")[0] for o in result.outputs["out"]] == [f"#{i}" for i in items]
    assert llm.max_active >= 2, "parallel rounds must overlap"
    assert llm.max_active <= 3, "parallel_nums bounds the rounds in flight"
    assert llm.seen == ["outer"] * 6, "context variables follow the work onto pool threads"


def test_nested_iteration_flattens_inner_lists() -> None:
    nodes = (
        _start_with_list([{"xs": [1, 2]}, {"xs": [3]}, {"xs": []}])
        + _iteration("outer", ["src", "items"], ["inner", "output"])
        + [
            code_node(
                "pick",
                "def main(o: dict) -> dict:\n    return {'xs': o['xs']}\n",
                {"xs": "array[number]"},
                {"o": ["outer", "item"]},
                parent="outer",
            ),
        ]
        + [
            dict(n, parentId=n.get("parentId", "outer"))
            for n in _iteration("inner", ["pick", "xs"], ["sq", "y"])
        ]
        + [
            code_node(
                "sq",
                "def main(x: int, i: int) -> dict:\n    return {'y': x * x + i}\n",
                {"y": "number"},
                {"x": ["inner", "item"], "i": ["outer", "index"]},
                parent="inner",
            ),
            _end(out=["outer", "output"]),
        ]
    )
    edges = [
        edge("s", "src"),
        edge("src", "outer"),
        edge("outerstart", "pick"),
        edge("pick", "inner"),
        edge("innerstart", "sq"),
        edge("outer", "e"),
    ]
    result = runner_for(make_app(nodes, edges)).run({})
    assert result.status == "succeeded", result.error
    assert result.outputs["out"] == [1, 4, 10]


def test_iteration_error_modes() -> None:
    code = "def main(x: int) -> dict:\n    return {'y': 10 // (x - 2)}\n"

    def run(mode: str) -> Any:
        nodes = (
            _start_with_list([1, 2, 3])
            + _iteration("it", ["src", "items"], ["div", "y"], error_handle_mode=mode)
            + [
                code_node("div", code, {"y": "number"}, {"x": ["it", "item"]}, parent="it"),
                _end(out=["it", "output"]),
            ]
        )
        edges = [edge("s", "src"), edge("src", "it"), edge("itstart", "div"), edge("it", "e")]
        return runner_for(make_app(nodes, edges)).run({})

    terminated = run("terminated")
    assert terminated.status == "failed"
    assert terminated.error is not None
    assert terminated.error.startswith("node it (iteration): round 1 failed: node div (code)")
    assert "ZeroDivisionError" in terminated.error
    assert run("continue-on-error").outputs["out"] == [-10, None, 10]
    assert run("remove-abnormal-output").outputs["out"] == [-10, 10]


def test_iteration_over_empty_list_outputs_empty_list_without_rounds() -> None:
    nodes = (
        _start_with_list([])
        + _iteration("it", ["src", "items"], ["c", "y"])
        + [
            code_node(
                "c", "def main() -> dict:\n    return {'y': 1}\n", {"y": "number"}, parent="it"
            ),
            _end(out=["it", "output"]),
        ]
    )
    edges = [edge("s", "src"), edge("src", "it"), edge("itstart", "c"), edge("it", "e")]
    result = runner_for(make_app(nodes, edges)).run({})
    assert result.outputs == {"out": []}
    assert "c" not in result.node_order()


def test_nodes_inside_rounds_report_their_container_and_round() -> None:
    nodes = [
        *_start_with_list([5, 6]),
        *_iteration("it", ["src", "items"], ["c", "y"]),
        code_node(
            "c",
            "def main(x: int) -> dict:\n    return {'y': x}\n",
            {"y": "number"},
            {"x": ["it", "item"]},
            parent="it",
        ),
    ]
    edges = [edge("s", "src"), edge("src", "it"), edge("itstart", "c")]
    result = runner_for(make_app(nodes, edges)).run({})
    rounds = [(r.scope, r.round_index) for r in result.node_results if r.node_id == "c"]
    assert rounds == [("it", 0), ("it", 1)]
    outer = next(r for r in result.node_results if r.node_id == "it")
    assert (outer.scope, outer.round_index) == (None, None)
