"""Retries, error strategies, timeouts and run limits on synthetic graphs (SPEC §6, §5.4)."""

from __future__ import annotations

from wfc_support import FlakyLLM, code_node, edge, llm_node, make_app, node, runner_for

FAIL = "def main() -> dict:\n    raise ValueError('boom')\n"


def _end(node_id: str = "e", **outputs: list[str]) -> dict[str, object]:
    return node(
        node_id,
        "end",
        outputs=[{"variable": k, "value_selector": v} for k, v in outputs.items()],
    )


def _retry(max_retries: int) -> dict[str, object]:
    return {"retry_enabled": True, "max_retries": max_retries, "retry_interval": 1}


def test_llm_retry_succeeds_on_third_attempt() -> None:
    app = make_app(
        [
            node("s", "start"),
            llm_node("l", "hello", retry_config=_retry(2)),
            _end(out=["l", "text"]),
        ],
        [edge("s", "l"), edge("l", "e")],
    )
    llm = FlakyLLM(failures=2)
    result = runner_for(app, llm=llm).run({})
    assert result.status == "succeeded"
    assert llm.calls == 3
    by_id = {r.node_id: r for r in result.node_results}
    assert by_id["l"].attempts == 3
    assert "hello" in result.outputs["out"]


def test_retries_exhausted_fail_the_run_with_the_last_error() -> None:
    app = make_app(
        [
            node("s", "start"),
            llm_node("l", "hello", retry_config=_retry(1)),
            _end(out=["l", "text"]),
        ],
        [edge("s", "l"), edge("l", "e")],
    )
    llm = FlakyLLM(failures=5)
    result = runner_for(app, llm=llm).run({})
    assert result.status == "failed"
    assert llm.calls == 2
    assert result.error == "node l (llm): upstream 503 (call 2)"
    assert "e" not in result.node_order()


def test_retry_config_is_ignored_on_nodes_dify_does_not_retry() -> None:
    app = make_app(
        [
            node("s", "start"),
            node(
                "t",
                "template-transform",
                template="{{ x.y.z }}",
                retry_config=_retry(3),
                variables=[{"variable": "x", "value_selector": ["s", "missing"]}],
            ),
        ],
        [edge("s", "t")],
    )
    result = runner_for(app).run({})
    assert result.status == "failed"
    assert result.node_results[-1].attempts == 1


def test_fail_branch_routes_errors_and_skips_the_success_path() -> None:
    app = make_app(
        [
            node("s", "start"),
            code_node("c", FAIL, {"x": "string"}, error_strategy="fail-branch"),
            _end("ok", x=["c", "x"]),
            _end("bad", message=["c", "error_message"], kind=["c", "error_type"]),
        ],
        [edge("s", "c"), edge("c", "ok"), edge("c", "bad", "fail-branch")],
    )
    result = runner_for(app).run({})
    assert result.status == "partial-succeeded"
    assert "ok" not in result.node_order() and "bad" in result.node_order()
    assert "ValueError" in result.outputs["message"] and "boom" in result.outputs["message"]
    assert result.outputs["kind"] == "NodeError"
    code_result = next(r for r in result.node_results if r.node_id == "c")
    assert code_result.status == "exception" and code_result.handle == "fail-branch"


def test_fail_branch_success_takes_the_source_handle() -> None:
    ok = "def main() -> dict:\n    return {'x': 'fine'}\n"
    app = make_app(
        [
            node("s", "start"),
            code_node("c", ok, {"x": "string"}, error_strategy="fail-branch"),
            _end("ok", x=["c", "x"]),
            _end("bad", message=["c", "error_message"]),
        ],
        [edge("s", "c"), edge("c", "ok"), edge("c", "bad", "fail-branch")],
    )
    result = runner_for(app).run({})
    assert result.status == "succeeded"
    assert result.outputs == {"x": "fine"}


def test_default_value_replaces_outputs_and_continues() -> None:
    app = make_app(
        [
            node("s", "start"),
            code_node(
                "c",
                FAIL,
                {"x": "string", "n": "number", "items": "array[string]"},
                error_strategy="default-value",
                default_value=[
                    {"key": "x", "type": "string", "value": "fallback"},
                    {"key": "n", "type": "number", "value": "2.5"},
                    {"key": "items", "type": "array[string]", "value": '["a", "b"]'},
                ],
            ),
            _end(x=["c", "x"], n=["c", "n"], items=["c", "items"], err=["c", "error_message"]),
        ],
        [edge("s", "c"), edge("c", "e")],
    )
    result = runner_for(app).run({})
    assert result.status == "partial-succeeded"
    assert result.outputs["x"] == "fallback"
    assert result.outputs["n"] == 2.5
    assert result.outputs["items"] == ["a", "b"]
    assert "boom" in result.outputs["err"]


def test_node_timeout_fails_the_node_by_name() -> None:
    app = make_app(
        [node("s", "start"), llm_node("slow", "hi", timeout=0.3), _end(out=["slow", "text"])],
        [edge("s", "slow"), edge("slow", "e")],
    )
    result = runner_for(app, latency_ms=3000).run({})
    assert result.status == "failed"
    assert result.error == "node slow (llm): timed out after 0.3 s"


def test_timeout_with_default_value_strategy_continues() -> None:
    app = make_app(
        [
            node("s", "start"),
            llm_node(
                "slow",
                "hi",
                timeout=0.3,
                error_strategy="default-value",
                default_value=[{"key": "text", "type": "string", "value": "late"}],
            ),
            _end(out=["slow", "text"], kind=["slow", "error_type"]),
        ],
        [edge("s", "slow"), edge("slow", "e")],
    )
    result = runner_for(app, latency_ms=3000).run({})
    assert result.status == "partial-succeeded"
    assert result.outputs == {"out": "late", "kind": "TimeoutError"}


def test_run_step_limit_stops_the_run() -> None:
    nodes = [node("s", "start")] + [
        node(f"t{i}", "template-transform", template=str(i)) for i in range(5)
    ]
    edges = [edge("s", "t0")] + [edge(f"t{i}", f"t{i + 1}") for i in range(4)]
    result = runner_for(make_app(nodes, edges), max_steps=3).run({})
    assert result.status == "failed"
    assert result.error is not None and "step limit of 3" in result.error
    assert result.node_order() == ["s", "t0", "t1"]


def test_run_time_limit_stops_a_slow_run() -> None:
    app = make_app(
        [node("s", "start"), llm_node("l", "hi"), _end(out=["l", "text"])],
        [edge("s", "l"), edge("l", "e")],
    )
    result = runner_for(app, latency_ms=3000, max_run_seconds=0.5).run({})
    assert result.status == "failed"
    assert result.error is not None and "time limit" in result.error


def test_missing_prompt_variable_fails_the_llm_node_before_calling_the_model() -> None:
    app = make_app(
        [
            node("s", "start"),
            node("c", "if-else", cases=[{"case_id": "true", "conditions": []}]),
            llm_node("l1", "never"),
            llm_node("l2", "uses {{#l1.text#}}"),
        ],
        [edge("s", "c"), edge("c", "l1", "false"), edge("c", "l2", "true")],
    )
    llm = FlakyLLM(failures=0)
    result = runner_for(app, llm=llm).run({})
    assert result.status == "failed"
    assert result.error == "node l2 (llm): variable l1.text not found"
    assert llm.calls == 0
