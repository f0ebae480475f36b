"""Node semantics on synthetic graphs: branches, joins, answers, chat state, variables."""

from __future__ import annotations

import contextvars
from typing import Any

import pytest
from wfc_support import CountingLLM, edge, llm_node, make_app, node, runner_for

from workflow_core import conditions
from workflow_core.events import NodeFinished, RunFinished, RunStarted

START = node("s", "start", variables=[{"variable": "x", "type": "text-input", "required": False}])


def _answer(node_id: str, text: str) -> dict[str, Any]:
    return node(node_id, "answer", answer=text)


def _case(case_id: str, selector: list[str], op: str, value: Any = "") -> dict[str, Any]:
    return {
        "case_id": case_id,
        "logical_operator": "and",
        "conditions": [{"variable_selector": selector, "comparison_operator": op, "value": value}],
    }


def _fan_out_app() -> Any:
    return make_app(
        [START]
        + [llm_node(f"l{i}", f"branch {i}: {{{{#s.x#}}}}") for i in range(4)]
        + [_answer(f"a{i}", f"[{i}] {{{{#l{i}.text#}}}}\n") for i in range(4)]
        + [_answer("join", "done")],
        [edge("s", f"l{i}") for i in range(4)]
        + [edge(f"l{i}", f"a{i}") for i in range(4)]
        + [edge(f"a{i}", "join") for i in range(4)],
        mode="advanced-chat",
    )


def test_parallel_branches_overlap_and_match_the_sequential_result() -> None:
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker")
    marker.set("run-1")
    parallel_llm = CountingLLM(latency_ms=150, probe_var=marker)
    parallel = runner_for(_fan_out_app(), llm=parallel_llm, max_workers=4).run({"x": "q"}, query="")
    sequential_llm = CountingLLM(latency_ms=0)
    sequential = runner_for(_fan_out_app(), llm=sequential_llm, max_workers=1).run(
        {"x": "q"}, query=""
    )
    assert parallel_llm.max_active >= 2 and sequential_llm.max_active == 1
    assert parallel_llm.seen == ["run-1"] * 4
    assert parallel.answer == sequential.answer
    assert parallel.node_order() == sequential.node_order()
    assert parallel.node_order()[-1] == "join"
    assert parallel.answer.startswith("[0] ") and parallel.answer.endswith("done")
    assert parallel.node_order().count("join") == 1, "fan-in runs once"


def test_if_else_skips_the_other_branch_and_its_answer() -> None:
    app = make_app(
        [
            START,
            node("c", "if-else", cases=[_case("true", ["s", "x"], "contains", "yes")]),
            _answer("t", "YES "),
            _answer("f", "NO "),
            _answer("tail", "{{#t.answer#}}|{{#f.answer#}}"),
        ],
        [
            edge("s", "c"),
            edge("c", "t", "true"),
            edge("c", "f", "false"),
            edge("t", "tail"),
            edge("f", "tail"),
        ],
        mode="advanced-chat",
    )
    runner = runner_for(app)
    assert runner.run({"x": "oh yes"}, query="").answer == "YES YES |"
    no = runner.run({"x": "nope"}, query="")
    assert no.answer == "NO |NO "
    assert "t" not in no.node_order()


def test_branch_handle_without_edge_ends_the_run_quietly() -> None:
    app = make_app(
        [
            START,
            node("c", "if-else", cases=[_case("true", ["s", "x"], "not empty")]),
            _answer("a", "hi"),
        ],
        [edge("s", "c"), edge("c", "a", "true")],
        mode="advanced-chat",
    )
    result = runner_for(app).run({}, query="")
    assert result.status == "succeeded" and result.answer == ""


@pytest.mark.parametrize(
    ("op", "actual", "expected", "outcome"),
    [
        ("contains", "abc", "b", True),
        ("not contains", ["a"], "b", True),
        ("start with", "abc", "ab", True),
        ("end with", "abc", "bc", True),
        ("is", None, "x", False),
        ("is not", None, "x", False),
        ("empty", [], "", True),
        ("not empty", 0, "", False),
        ("=", 3, "3", True),
        ("≠", 3, "4", True),
        (">", 3.5, "3", True),
        ("≤", 3, "3", True),
        ("null", None, "", True),
        ("not null", "", "", True),
        ("in", "b", ["a", "b"], True),
        ("not in", "c", ["a", "b"], True),
        ("all of", ["a", "b", "c"], ["a", "c"], True),
        ("is", True, "true", True),
    ],
)
def test_comparison_operators(op: str, actual: Any, expected: Any, outcome: bool) -> None:
    expected = conditions._bool(expected) if isinstance(actual, bool) else expected
    assert conditions.compare(op, actual, expected) is outcome


def test_is_on_a_number_fails_clearly() -> None:
    with pytest.raises(conditions.ConditionError, match="'is' needs a string, got int"):
        conditions.compare("is", 3, "3")


def test_condition_on_missing_variable_fails_the_node() -> None:
    app = make_app(
        [
            START,
            llm_node("l", "x"),
            node("c", "if-else", cases=[_case("true", ["l", "nope"], "empty")]),
        ],
        [edge("s", "l"), edge("l", "c")],
    )
    result = runner_for(app).run({})
    assert result.error == "node c (if-else): case true: condition variable l.nope not found"


def test_conversation_variables_persist_and_assigner_operations_apply() -> None:
    conversation = [
        {"name": "count", "value": 0, "value_type": "number"},
        {"name": "log", "value": [], "value_type": "array[string]"},
        {"name": "last", "value": "", "value_type": "string"},
    ]
    items = [
        {
            "variable_selector": ["conversation", "count"],
            "input_type": "constant",
            "operation": "+=",
            "value": 1,
        },
        {
            "variable_selector": ["conversation", "log"],
            "input_type": "variable",
            "operation": "append",
            "value": ["sys", "query"],
        },
        {
            "variable_selector": ["conversation", "last"],
            "input_type": "variable",
            "operation": "over-write",
            "value": ["sys", "query"],
        },
    ]
    app = make_app(
        [
            node("s", "start"),
            node("as", "assigner", version="2", items=items),
            _answer(
                "a", "{{#conversation.count#}} {{#conversation.last#}} {{#sys.dialogue_count#}}"
            ),
        ],
        [edge("s", "as"), edge("as", "a")],
        mode="advanced-chat",
        conversation_variables=conversation,
    )
    runner = runner_for(app)
    assert runner.run({}, query="one", conversation_id="k").answer == "1 one 0"
    assert runner.run({}, query="two", conversation_id="k").answer == "2 two 1"
    state = runner.conversation_store.load(app.app_id, "k")  # type: ignore[union-attr]
    assert state is not None and state.variables["log"] == ["one", "two"]
    assert runner.run({}, query="new", conversation_id="other").answer == "1 new 0"


def test_assigner_type_mismatch_fails_the_node() -> None:
    app = make_app(
        [
            node("s", "start"),
            node(
                "as",
                "assigner",
                version="2",
                items=[
                    {
                        "variable_selector": ["conversation", "n"],
                        "input_type": "constant",
                        "operation": "over-write",
                        "value": "text",
                    }
                ],
            ),
        ],
        [edge("s", "as")],
        mode="advanced-chat",
        conversation_variables=[{"name": "n", "value": 1, "value_type": "number"}],
    )
    result = runner_for(app).run({}, query="")
    assert result.error == "node as (assigner): cannot assign a string to a number variable"


def test_variable_aggregator_picks_the_branch_that_ran() -> None:
    app = make_app(
        [
            START,
            node("c", "if-else", cases=[_case("true", ["s", "x"], "is", "left")]),
            node("L", "template-transform", template="from-left"),
            node("R", "template-transform", template="from-right"),
            node("agg", "variable-aggregator", variables=[["L", "output"], ["R", "output"]]),
            node("e", "end", outputs=[{"variable": "o", "value_selector": ["agg", "output"]}]),
        ],
        [
            edge("s", "c"),
            edge("c", "L", "true"),
            edge("c", "R", "false"),
            edge("L", "agg"),
            edge("R", "agg"),
            edge("agg", "e"),
        ],
    )
    runner = runner_for(app)
    assert runner.run({"x": "left"}).outputs == {"o": "from-left"}
    assert runner.run({"x": "right"}).outputs == {"o": "from-right"}


def test_list_operator_filters_orders_and_limits() -> None:
    data = [
        {"name": "b.pdf", "size": 30},
        {"name": "a.txt", "size": 10},
        {"name": "c.pdf", "size": 20},
    ]
    app = make_app(
        [
            node("s", "start"),
            node(
                "src",
                "code",
                code=f"def main() -> dict:\n    return {{'items': {data!r}}}\n",
                outputs={"items": {"type": "array[object]"}},
            ),
            node(
                "lo",
                "list-operator",
                variable=["src", "items"],
                filter_by={
                    "enabled": True,
                    "conditions": [
                        {"key": "name", "comparison_operator": "end with", "value": ".pdf"}
                    ],
                },
                order_by={"enabled": True, "key": "size", "value": "asc"},
                limit={"enabled": True, "size": 1},
            ),
            node(
                "e",
                "end",
                outputs=[
                    {"variable": "r", "value_selector": ["lo", "result"]},
                    {"variable": "f", "value_selector": ["lo", "first_record"]},
                ],
            ),
        ],
        [edge("s", "src"), edge("src", "lo"), edge("lo", "e")],
    )
    assert runner_for(app).run({}).outputs == {"r": [data[2]], "f": data[2]}


def test_question_classifier_routes_by_class_id() -> None:
    classes = [{"id": "1", "name": "billing"}, {"id": "2", "name": "shipping"}]
    app = make_app(
        [
            START,
            node(
                "qc",
                "question-classifier",
                query_variable_selector=["s", "x"],
                classes=classes,
                model={"provider": "openai", "name": "gpt-4o-mini", "mode": "chat"},
            ),
            node("b", "template-transform", template="B"),
            node("sh", "template-transform", template="S"),
        ],
        [edge("s", "qc"), edge("qc", "b", "1"), edge("qc", "sh", "2")],
    )
    result = runner_for(app).run({"x": "where is my shipping parcel?"})
    assert result.status == "succeeded", result.error
    assert "sh" in result.node_order() and "b" not in result.node_order()
    qc = next(r for r in result.node_results if r.node_id == "qc")
    assert qc.outputs["class_name"] == "shipping" and qc.handle == "2"


@pytest.mark.parametrize("mode", ["prompt", "function_call"])
def test_parameter_extractor_returns_typed_parameters(mode: str) -> None:
    params = [
        {"name": "city", "type": "string", "description": "the city", "required": True},
        {"name": "days", "type": "number", "description": "trip length"},
        {"name": "tags", "type": "array[string]", "description": "interests"},
        {"name": "link", "type": "string", "description": "image url"},
    ]
    app = make_app(
        [
            START,
            node(
                "pe",
                "parameter-extractor",
                query=["s", "x"],
                parameters=params,
                reasoning_mode=mode,
                model={"provider": "openai", "name": "gpt-4o-mini", "mode": "chat"},
            ),
        ],
        [edge("s", "pe")],
    )
    result = runner_for(app).run({"x": "3 days in Paris, see https://img.example/p.png"})
    out = result.node_results[-1].outputs
    assert out["__is_success"] == 1 and out["__reason"] is None
    assert isinstance(out["city"], str) and out["city"]
    assert isinstance(out["days"], int)
    assert isinstance(out["tags"], list) and all(isinstance(t, str) for t in out["tags"])
    assert out["link"] == "https://img.example/p.png"


def test_env_and_sys_variables_are_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(
        [
            node("s", "start"),
            node(
                "t",
                "template-transform",
                template="{{ n }} {{ k }} {{ r }}",
                variables=[
                    {"variable": "n", "value_selector": ["env", "top_n"]},
                    {"variable": "k", "value_selector": ["env", "api_key"]},
                    {"variable": "r", "value_selector": ["sys", "workflow_run_id"]},
                ],
            ),
        ],
        [edge("s", "t")],
        environment_variables=[
            {"name": "top_n", "value": "50", "value_type": "number"},
            {"name": "api_key", "value": "", "value_type": "secret"},
        ],
    )
    from workflow_core.settings import RunSettings

    runner = runner_for(app)
    runner.settings = RunSettings.from_env({"FLOWSCOPE_ENV_api_key": "k-123"})
    result = runner.run({})
    assert result.node_results[-1].outputs["output"] == f"50 k-123 {result.run_id}"


def test_listeners_receive_start_node_and_finish_events() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.events: list[Any] = []

        def on_run_start(self, event: RunStarted) -> None:
            self.events.append(event)

        def on_node_finish(self, event: NodeFinished) -> None:
            self.events.append(event)

        def on_run_finish(self, event: RunFinished) -> None:
            self.events.append(event)

    class Broken:
        def on_run_start(self, event: RunStarted) -> None:
            raise RuntimeError("observer bug")

        on_node_finish = on_run_finish = on_run_start  # type: ignore[assignment]

    app = make_app(
        [
            START,
            llm_node("l", "hi {{#s.x#}}"),
            node("e", "end", outputs=[{"variable": "o", "value_selector": ["l", "text"]}]),
        ],
        [edge("s", "l"), edge("l", "e")],
    )
    recorder = Recorder()
    runner = runner_for(app)
    runner.listeners = (Broken(), recorder)  # type: ignore[assignment]
    result = runner.run({"x": "there"})
    assert result.status == "succeeded"
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds == ["RunStarted", "NodeFinished", "NodeFinished", "NodeFinished", "RunFinished"]
    llm_event = recorder.events[2]
    assert (llm_event.node_id, llm_event.node_type, llm_event.status) == ("l", "llm", "succeeded")
    assert llm_event.usage.input_tokens > 0 and llm_event.llm_calls[0].model == "gpt-4o-mini"
    assert recorder.events[-1].run_id == result.run_id == recorder.events[0].run_id
    assert recorder.events[-1].usage == result.usage


def test_conversation_defaults_are_typed_by_value_type() -> None:
    conversation = [
        {"name": "n", "value": "41", "value_type": "number"},
        {"name": "tags", "value": '["a"]', "value_type": "array[string]"},
    ]
    items = [
        {
            "variable_selector": ["conversation", "n"],
            "input_type": "constant",
            "operation": "+=",
            "value": 1,
        },
        {
            "variable_selector": ["conversation", "tags"],
            "input_type": "constant",
            "operation": "append",
            "value": "b",
        },
    ]
    app = make_app(
        [
            node("s", "start"),
            node("as", "assigner", version="2", items=items),
            _answer("a", "{{#conversation.n#}} {{#conversation.tags#}}"),
        ],
        [edge("s", "as"), edge("as", "a")],
        mode="advanced-chat",
        conversation_variables=conversation,
    )
    assert runner_for(app).run({}, query="").answer == "42 - a\n- b"


def test_file_sub_conditions_route_on_uploaded_file_types(tmp_path: Any) -> None:
    from workflow_core.files import file_from_path

    condition = {
        "variable_selector": ["sys", "files"],
        "comparison_operator": "contains",
        "varType": "array[file]",
        "value": "",
        "sub_variable_condition": {
            "logical_operator": "and",
            "conditions": [{"key": "type", "comparison_operator": "in", "value": ["document"]}],
        },
    }
    app = make_app(
        [
            node("s", "start"),
            node(
                "c",
                "if-else",
                cases=[{"case_id": "true", "logical_operator": "and", "conditions": [condition]}],
            ),
            _answer("doc", "document"),
            _answer("other", "no document"),
        ],
        [edge("s", "c"), edge("c", "doc", "true"), edge("c", "other", "false")],
        mode="advanced-chat",
    )
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "b.png").write_bytes(b"\x89PNG")
    runner = runner_for(app)
    assert runner.run({}, query="", files=[file_from_path(tmp_path / "a.pdf")]).answer == "document"
    assert (
        runner.run({}, query="", files=[file_from_path(tmp_path / "b.png")]).answer == "no document"
    )
    assert runner.run({}, query="").answer == "no document"


def test_variable_aggregator_groups() -> None:
    groups = [
        {"group_name": "g1", "variables": [["s", "absent"], ["t", "output"]]},
        {"group_name": "g2", "variables": [["s", "nothing"]]},
    ]
    app = make_app(
        [
            node("s", "start"),
            node("t", "template-transform", template="T"),
            node(
                "agg",
                "variable-aggregator",
                advanced_settings={"group_enabled": True, "groups": groups},
            ),
        ],
        [edge("s", "t"), edge("t", "agg")],
    )
    result = runner_for(app).run({})
    assert result.node_results[-1].outputs == {"g1": {"output": "T"}}


def test_assigner_v1_overwrites_appends_and_clears() -> None:
    conversation = [
        {"name": "last", "value": "", "value_type": "string"},
        {"name": "all", "value": [], "value_type": "array[string]"},
        {"name": "tmp", "value": "junk", "value_type": "string"},
    ]
    app = make_app(
        [
            node("s", "start"),
            node(
                "w",
                "assigner",
                assigned_variable_selector=["conversation", "last"],
                input_variable_selector=["sys", "query"],
                write_mode="over-write",
            ),
            node(
                "ap",
                "assigner",
                assigned_variable_selector=["conversation", "all"],
                input_variable_selector=["sys", "query"],
                write_mode="append",
            ),
            node(
                "cl",
                "assigner",
                assigned_variable_selector=["conversation", "tmp"],
                input_variable_selector=[],
                write_mode="clear",
            ),
            _answer("a", "{{#conversation.last#}}|{{#conversation.all#}}|{{#conversation.tmp#}}"),
        ],
        [edge("s", "w"), edge("w", "ap"), edge("ap", "cl"), edge("cl", "a")],
        mode="advanced-chat",
        conversation_variables=conversation,
    )
    runner = runner_for(app)
    runner.run({}, query="one", conversation_id="v1")
    assert runner.run({}, query="two", conversation_id="v1").answer == "two|- one\n- two|"


def test_llm_context_joins_knowledge_items_and_completion_prompt_is_one_user_message() -> None:
    from wfc_support import CountingLLM

    chunks = [
        {"content": "Paris is in France.", "summary": "geo"},
        {"content": "It has the Louvre."},
    ]
    app = make_app(
        [
            node("s", "start"),
            node(
                "k",
                "code",
                code=f"def main() -> dict:\n    return {{'result': {chunks!r}}}\n",
                outputs={"result": {"type": "array[object]"}},
            ),
            node(
                "l",
                "llm",
                model={"provider": "openai", "name": "gpt-4o-mini", "mode": "completion"},
                context={"enabled": True, "variable_selector": ["k", "result"]},
                prompt_template={"text": "Use <ctx>{{#context#}}</ctx> to answer."},
            ),
        ],
        [edge("s", "k"), edge("k", "l")],
    )

    class Recording(CountingLLM):
        def _invoke(self, request: Any) -> Any:
            self.last = request
            return super()._invoke(request)

    llm = Recording()
    result = runner_for(app, llm=llm).run({})
    assert result.status == "succeeded", result.error
    (message,) = llm.last.messages
    assert message.role == "user"
    assert (
        message.content == "Use <ctx>geo\nParis is in France.\nIt has the Louvre.</ctx> to answer."
    )
