"""The probe on graphon, in process: span tree, identity, rounds, context, failures, versions."""

from __future__ import annotations

import logging
import types
from pathlib import Path

import pytest
import wrapt
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import probe
from graphon_support.corpus import SAMPLES
from graphon_support.loader import plain, run_file
from graphon_support.trees import from_sdk, span_tree
from probe import guard
from probe.graphon import install
from workflow_core.dsl import load_app
from workflow_core.runner import WorkflowRunner


def _by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans}


def _parent(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, span.name
    return _by_id(spans)[span.parent.span_id]


@pytest.mark.parametrize("file", ["translation_workflow.yml", "dify_course_demo.yml"])
def test_graphon_tree_equals_core_tree_node_for_node(
    exporter: InMemorySpanExporter, file: str
) -> None:
    sample = SAMPLES[file]
    core = WorkflowRunner(load_app(sample.path)).run(sample.inputs, query=sample.query)
    core_tree = span_tree(from_sdk(exporter.get_finished_spans()))
    exporter.clear()
    graphon = run_file(sample.path, sample.inputs, query=sample.query)
    graphon_tree = span_tree(from_sdk(exporter.get_finished_spans()))
    assert (core.status, graphon.status) == ("succeeded", "succeeded")
    assert graphon_tree.lines() == core_tree.lines()
    assert graphon_tree == core_tree  # names, and node id/type/title/kind/index of every span


def test_llm_span_made_on_a_worker_thread_is_a_child_of_its_node_with_usage(
    exporter: InMemorySpanExporter,
) -> None:
    sample = SAMPLES["SEO_Slug_Generator.yml"]
    assert run_file(sample.path, sample.inputs).status == "succeeded"
    spans = list(exporter.get_finished_spans())
    assert len({s.context.trace_id for s in spans}) == 1
    (chat,) = [s for s in spans if s.name == "chat deepseek-chat"]
    node = _parent(chat, spans)
    assert node.name == "llm LLM"
    assert chat.attributes["flowscope.node.id"] == "1721110597868"
    assert chat.attributes["flowscope.workflow.name"] == "SEO Slug Generator"
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    assert chat.attributes["gen_ai.usage.output_tokens"] > 0
    root = _parent(node, spans)
    assert root.name == "invoke_workflow SEO Slug Generator" and root.parent is None
    assert root.attributes["flowscope.workflow.status"] == "succeeded"
    assert "How observability" in node.attributes["flowscope.node.inputs"]
    assert node.attributes["flowscope.node.status"] == "succeeded"


def test_round_spans_carry_their_index_and_pass_it_to_the_nodes_inside(
    exporter: InMemorySpanExporter,
) -> None:
    sample = SAMPLES["dify_course_demo.yml"]
    assert run_file(sample.path, sample.inputs).status == "succeeded"
    spans = list(exporter.get_finished_spans())
    rounds = [s for s in spans if s.attributes.get("flowscope.span.kind") == "iteration"]
    assert len(rounds) >= 2
    for round_span in rounds:
        index = round_span.attributes["flowscope.iteration.index"]
        assert round_span.name == f"iteration[{index}]"
        container = _parent(round_span, spans)
        assert container.attributes["flowscope.node.type"] == "iteration"
        assert container.end_time >= round_span.end_time
        inside = [s for s in spans if s.parent and s.parent.span_id == round_span.context.span_id]
        assert {s.attributes["flowscope.iteration.index"] for s in inside} == {index}
        assert round_span.end_time >= max(s.end_time for s in inside)


def test_workflow_span_is_a_child_of_the_callers_current_span(
    exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    sample = SAMPLES["SEO_Slug_Generator.yml"]
    host = provider.get_tracer("host")  # e.g. Dify's Flask instrumentation
    with host.start_as_current_span("POST /v1/workflows/run") as request:
        run_file(sample.path, sample.inputs)
    spans = list(exporter.get_finished_spans())
    (root,) = [s for s in spans if s.name.startswith("invoke_workflow")]
    assert root.parent is not None
    assert root.parent.span_id == request.get_span_context().span_id
    assert {s.context.trace_id for s in spans} == {request.get_span_context().trace_id}


def test_failed_node_marks_its_span_and_the_workflow_span_as_errors(
    exporter: InMemorySpanExporter,
) -> None:
    sample = SAMPLES["translation_workflow.yml"]
    result = run_file(sample.path, {})  # required inputs missing: the first LLM node fails
    assert result.status == "failed"
    spans = list(exporter.get_finished_spans())
    failed = [s for s in spans if s.status.status_code is StatusCode.ERROR]
    names = {s.name for s in failed}
    assert "invoke_workflow translation_workflow" in names
    node_errors = [s for s in failed if s.attributes.get("flowscope.span.kind") == "node"]
    assert node_errors and all(
        s.attributes["flowscope.node.status"] == "failed" for s in node_errors
    )
    assert "not found" in node_errors[0].attributes["flowscope.error.message"]


def test_engine_run_without_the_probe_is_not_traced(exporter: InMemorySpanExporter) -> None:
    probe.uninstrument()
    sample = SAMPLES["SEO_Slug_Generator.yml"]
    assert run_file(sample.path, sample.inputs).status == "succeeded"
    assert list(exporter.get_finished_spans()) == []


def test_graphon_outside_the_version_window_gets_one_warning_and_no_patch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert install.supported("0.8.0", ">=0.8,<0.9")
    assert not install.supported("0.9.0", ">=0.8,<0.9")
    assert not install.supported(None, ">=0.8,<0.9")
    fake = types.ModuleType("graphon.engine.engine")

    class Engine:
        def __init__(self) -> None:
            self.layers: list[object] = []

    fake.Engine = Engine  # type: ignore[attr-defined]
    guard.reset()
    with caplog.at_level(logging.WARNING, logger="probe"):
        install._patch(fake, ">=0.9,<0.10")
        install._patch(fake, ">=0.9,<0.10")
    warnings = [r for r in caplog.records if "outside the supported window" in r.getMessage()]
    assert len(warnings) == 1
    assert "0.8.0" in warnings[0].getMessage()
    assert not isinstance(Engine.__dict__["__init__"], wrapt.FunctionWrapper)


def test_loop_rounds_give_the_same_tree_as_the_core(exporter: InMemorySpanExporter) -> None:
    path = Path(__file__).parent / "data" / "loop_demo.yml"
    core = WorkflowRunner(load_app(path)).run({"word": "hi"})
    core_tree = span_tree(from_sdk(exporter.get_finished_spans()))
    exporter.clear()
    graphon = run_file(path, {"word": "hi"})
    spans = list(exporter.get_finished_spans())
    assert (core.outputs, plain(graphon.outputs)) == ({"rounds": 3}, {"rounds": 3})
    assert span_tree(from_sdk(spans)) == core_tree
    rounds = sorted(s.name for s in spans if s.attributes.get("flowscope.span.kind") == "loop")
    assert rounds == ["loop[0]", "loop[1]", "loop[2]"]
    echoes = [s for s in spans if s.name == "template-transform Echo"]
    (echo,) = [s for s in echoes if _parent(s, spans).name == "loop[2]"]
    assert echo.attributes["flowscope.loop.index"] == 2


def test_parallel_branches_on_two_workers_each_keep_their_own_node_context(
    exporter: InMemorySpanExporter,
) -> None:
    from workflow_core.providers.simulated import SimulatedLLM

    path = Path(__file__).parent / "data" / "parallel_demo.yml"
    core = WorkflowRunner(load_app(path)).run({"topic": "tracing"})
    core_tree = span_tree(from_sdk(exporter.get_finished_spans()))
    exporter.clear()
    graphon = run_file(path, {"topic": "tracing"}, llm_client=SimulatedLLM(latency_ms=300))
    spans = list(exporter.get_finished_spans())

    assert plain(graphon.outputs) == core.outputs
    assert span_tree(from_sdk(spans)) == core_tree
    chats = {s.name: s for s in spans if s.attributes.get("flowscope.span.kind") == "llm"}
    pros, cons = chats["chat gpt-4o-mini"], chats["chat gpt-4o"]
    assert pros.start_time < cons.end_time and cons.start_time < pros.end_time  # concurrent
    for chat, node, node_id in ((pros, "llm Pros", "left"), (cons, "llm Cons", "right")):
        assert _parent(chat, spans).name == node
        assert chat.attributes["flowscope.node.id"] == node_id
