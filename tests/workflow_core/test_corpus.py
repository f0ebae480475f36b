"""The corpus files SPEC §9 lists as offline-runnable run to success with meaningful outputs."""

from __future__ import annotations

import json
from typing import Any

from wfc_support import CORPUS, runner_for

from workflow_core.dsl import load_app
from workflow_core.providers.base import LLMRequest, LLMResponse
from workflow_core.providers.simulated import SimulatedLLM
from workflow_core.runner import WorkflowRunner


def _runner(name: str, **kwargs: Any) -> WorkflowRunner:
    return runner_for(load_app(CORPUS / f"{name}.yml"), **kwargs)


class RecordingLLM(SimulatedLLM):
    def __init__(self, script: dict[str, Any] | None = None) -> None:
        super().__init__(script=script)
        self.requests: list[LLMRequest] = []

    def _invoke(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        return super()._invoke(request)


def test_seo_slug_generator_answers_about_the_title_with_priced_usage() -> None:
    result = _runner("SEO_Slug_Generator").run({"title": "How to bake sourdough bread at home"})
    assert result.status == "succeeded", result.error
    assert "How to bake sourdough bread at home" in result.outputs["output"]
    assert result.node_order() == ["1721110595591", "1721110597868", "1721110634700"]
    llm = next(r for r in result.node_results if r.node_type == "llm")
    assert llm.llm_calls[0].model == "deepseek-chat"
    assert llm.usage.input_tokens > 50 and llm.usage.output_tokens > 5


def test_translation_without_country_takes_the_true_branch() -> None:
    inputs = {"source_text": "The cat sleeps.", "source_lang": "English", "target_lang": "French"}
    result = _runner("translation_workflow").run(inputs)
    assert result.status == "succeeded", result.error
    order = result.node_order()
    assert "1721118559807" in order and "1721118668192" not in order
    assert order[-1] == "1721119092752"
    aggregated = next(r for r in result.node_results if r.node_type == "variable-aggregator")
    suggestions = next(r for r in result.node_results if r.node_id == "1721118559807")
    assert aggregated.outputs["output"] == suggestions.outputs["text"]
    assert "French" in result.outputs["output"]


def test_translation_with_country_takes_the_false_branch() -> None:
    inputs = {
        "source_text": "The cat sleeps.",
        "source_lang": "English",
        "target_lang": "French",
        "country": "Canada",
    }
    llm = RecordingLLM()
    result = _runner("translation_workflow", llm=llm).run(inputs)
    assert result.status == "succeeded", result.error
    order = result.node_order()
    assert "1721118668192" in order and "1721118559807" not in order
    country_prompt = next(r for r in llm.requests if r.node_id == "1721118668192")
    assert any("Canada" in m.content for m in country_prompt.messages)


def test_json_repair_repairs_a_broken_json_string() -> None:
    result = _runner("json-repair").run({"llm_string": '{"a": 1, "b": [1, 2'})
    assert result.status == "succeeded", result.error
    assert json.loads(result.outputs["output"]) == {"a": 1, "b": [1, 2]}


def test_dify_course_demo_builds_an_outline_and_iterates_over_it() -> None:
    result = _runner("dify_course_demo").run({"course_name": "Python"})
    assert result.status == "succeeded", result.error
    assert result.outputs["course_name"] == "Python"
    course = result.outputs["course"]
    assert isinstance(course, list) and len(course) == 9
    iteration_rounds = [r for r in result.node_results if r.scope == "1728217105363"]
    assert len({r.node_id for r in iteration_rounds}) >= 2
    assert all(isinstance(item, dict) and item for item in course)


def test_artifact_keeps_memory_across_turns() -> None:
    llm = RecordingLLM()
    runner = _runner("Artifact", llm=llm)
    first = runner.run({}, query="Build me a todo app", conversation_id="c1")
    second = runner.run({}, query="Add dark mode", conversation_id="c1")
    assert first.status == second.status == "succeeded"
    assert "Build me a todo app" in first.answer and "Add dark mode" in second.answer
    contents = [m.content for m in llm.requests[-1].messages]
    assert "Build me a todo app" in contents, "turn 1 is in the memory window of turn 2"
    assert first.answer in contents
    assert contents[-1] == "Add dark mode"


def test_llm_surrounded_game_advances_a_level_across_turns() -> None:
    runner = _runner("llm_surrounded_game", script={"1735195760496": "1+1=3"})
    idle = runner.run({}, query="hello", conversation_id="g")
    assert "还未开始游戏" in idle.answer
    started = runner.run({}, query="#开始", conversation_id="g")
    assert "第1题" in started.answer
    solved = runner.run({}, query="说出1+1=3", conversation_id="g")
    assert solved.status == "succeeded", solved.error
    assert "挑战成功" in solved.answer
    assert "第2题" in solved.answer
    state = runner.conversation_store.load(runner.app.app_id, "g")  # type: ignore[union-attr]
    assert state is not None and state.variables["question_id"] == 1
    assert state.variables["status"] == "running"
    assert len(state.turns) == 3


def test_simple_kimi_without_web_search_answers_through_the_llm() -> None:
    runner = _runner("simple-kimi")
    result = runner.run({"web_search": "关闭"}, query="What is the capital of France?")
    assert result.status == "succeeded", result.error
    assert "What is the capital of France?" in result.answer


def test_simple_kimi_with_web_search_unset_ends_quietly() -> None:
    result = _runner("simple-kimi").run({}, query="hi")
    assert result.status == "succeeded"
    assert result.answer == ""


def test_document_chat_without_retrieval_answers_from_the_llm() -> None:
    script = {"1720795218540": "这个问题不需要检索知识库。"}
    result = _runner("Document_chat_template", script=script).run({"input": "你好，今天天气如何？"})
    assert result.status == "succeeded", result.error
    assert "knowledge-retrieval" not in {r.node_type for r in result.node_results}
    assert len(result.outputs) == 1
    (answer,) = result.outputs.values()
    assert isinstance(answer, str) and answer
