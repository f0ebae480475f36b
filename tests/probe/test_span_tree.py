"""The exact span tree the probe produces for the real workflow core."""

from __future__ import annotations

from typing import Any

from probe_support import ScriptedFailureLLM, Traced, parallel_iteration_app, runner, span_tree

from probe import semconv


def test_iteration_in_parallel_branch_with_retried_llm_gives_exact_tree(traced: Traced) -> None:
    llm = ScriptedFailureLLM({"ask": 1})  # the first call of node "ask" fails, its retry works
    result = runner(parallel_iteration_app(), llm, workers=4).run({"topic": "cats"})
    assert result.status == "succeeded"

    chat = "chat gpt-4o-mini"
    ask_first_round = (
        "llm Ask",
        "node",
        "UNSET",
        ((chat, "llm", "ERROR", ()), (chat, "llm", "UNSET", ())),
    )
    ask_second_round = ("llm Ask", "node", "UNSET", ((chat, "llm", "UNSET", ()),))
    iteration_start = ("iteration-start iterstart", "node", "UNSET", ())
    assert span_tree(traced.spans()) == [
        (
            "invoke_workflow Parallel Iteration",
            "workflow",
            "UNSET",
            (
                ("code Split", "node", "UNSET", (("execute_code", "code", "UNSET", ()),)),
                ("end End", "node", "UNSET", ()),
                (
                    "iteration Iter",
                    "node",
                    "UNSET",
                    (
                        ("iteration[0]", "iteration", "UNSET", (iteration_start, ask_first_round)),
                        ("iteration[1]", "iteration", "UNSET", (iteration_start, ask_second_round)),
                    ),
                ),
                ("start Start", "node", "UNSET", ()),
                ("template-transform Tmpl", "node", "UNSET", ()),
            ),
        )
    ]


def test_spans_of_a_run_share_trace_and_run_attributes(traced: Traced) -> None:
    result = runner(parallel_iteration_app(), ScriptedFailureLLM({"ask": 1})).run({"topic": "x"})
    spans = traced.spans()
    assert len({s.context.trace_id for s in spans}) == 1
    for span in spans:
        attrs = span.attributes or {}
        assert attrs[semconv.WORKFLOW_RUN_ID] == result.run_id, span.name
        assert attrs[semconv.WORKFLOW_NAME] == "Parallel Iteration", span.name
        assert attrs[semconv.WORKFLOW_MODE] == "workflow", span.name


def test_child_spans_carry_node_identity_and_round_index(traced: Traced) -> None:
    runner(parallel_iteration_app(), ScriptedFailureLLM({"ask": 1})).run({"topic": "x"})
    chats = traced.by_name("chat gpt-4o-mini")
    assert len(chats) == 3
    for chat in chats:
        attrs = chat.attributes or {}
        assert attrs[semconv.NODE_ID] == "ask"
        assert attrs[semconv.NODE_TYPE] == "llm"
        assert attrs[semconv.NODE_TITLE] == "Ask"
    indexes = sorted(
        ((c.attributes or {})[semconv.ITERATION_INDEX], (c.attributes or {})[semconv.RETRY_ATTEMPT])
        for c in chats
    )
    assert indexes == [(0, 1), (0, 2), (1, 1)]
    (code,) = traced.by_name("execute_code")
    assert (code.attributes or {})[semconv.NODE_ID] == "split"
    assert (code.attributes or {})[semconv.CODE_LANGUAGE] == "python3"


def test_retried_node_records_attempts_and_llm_usage(traced: Traced) -> None:
    runner(parallel_iteration_app(), ScriptedFailureLLM({"ask": 1})).run({"topic": "x"})
    asks = sorted(
        traced.by_name("llm Ask"), key=lambda s: (s.attributes or {})[semconv.ITERATION_INDEX]
    )
    assert [(s.attributes or {})[semconv.RETRY_ATTEMPT] for s in asks] == [2, 1]
    ok_chats = [s for s in traced.by_name("chat gpt-4o-mini") if s.status.is_ok]
    for chat in ok_chats:
        attrs = chat.attributes or {}
        assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
        assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
        assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
        assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
        assert int(attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS]) > 0  # type: ignore[arg-type]
        assert int(attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) > 0  # type: ignore[arg-type]
    failed = [s for s in traced.by_name("chat gpt-4o-mini") if not s.status.is_ok]
    assert len(failed) == 1
    assert failed[0].events[0].name == "exception"
    assert (failed[0].attributes or {})[semconv.ERROR_TYPE] == "ProviderError"


def test_node_inputs_and_outputs_captured_as_json(traced: Traced) -> None:
    runner(parallel_iteration_app(), ScriptedFailureLLM({})).run({"topic": "dogs"})
    (tmpl,) = traced.by_name("template-transform Tmpl")
    attrs = tmpl.attributes or {}
    assert attrs[semconv.NODE_INPUTS] == '{"topic":"dogs"}'
    assert attrs[semconv.NODE_OUTPUTS] == '{"output":"Topic: dogs"}'


def test_node_span_names_follow_each_app_even_when_node_ids_repeat(traced: Traced) -> None:
    """Per-spec facts are cached by spec object: a second app reusing node ids gets its titles."""
    from workflow_core.dsl import parse_app

    def app(title: str) -> Any:
        nodes = [
            {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
            {"id": "t", "data": {"type": "template-transform", "title": title, "template": "x"}},
            {"id": "end", "data": {"type": "end", "title": "End", "outputs": []}},
        ]
        edges = [
            {"id": "e1", "source": "start", "target": "t"},
            {"id": "e2", "source": "t", "target": "end"},
        ]
        graph = {"nodes": [{**n, "type": "custom"} for n in nodes], "edges": edges}
        return parse_app(
            {
                "kind": "app",
                "app": {"name": title, "mode": "workflow"},
                "workflow": {"graph": graph},
            },
            source=f"{title}.yml",
        )

    for title in ("First title", "Second title", "First title"):
        runner(app(title)).run({})
    names = [s.name for s in traced.exporter.get_finished_spans() if s.name.startswith("template")]
    assert names == [
        "template-transform First title",
        "template-transform Second title",
        "template-transform First title",
    ]
