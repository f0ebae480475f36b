"""The probe and a real sampling policy: decide first, collapse dropped spans, count usage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from probe_support import ScriptedFailureLLM, parallel_iteration_app, runner, span_tree

import probe
from probe import semconv
from probe.settings import ProbeSettings

POLICY = """version: 1
settings:
  error_boost: {{enabled: false}}
rules:
  - id: roots
    match: {{kind: workflow}}
    rate: 1.0
  - id: nodes
    match: {{kind: [node, iteration, code]}}
    rate: {node_rate}
  - id: llm
    match: {{kind: llm}}
    {llm_rule}
  - id: default
    rate: 1.0
"""


def _instrument(tmp_path: Path, node_rate: float, llm_rule: str) -> InMemorySpanExporter:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(node_rate=node_rate, llm_rule=llm_rule), encoding="utf-8")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.uninstrument()
    settings = ProbeSettings(
        traces_exporter="none", metrics_exporter="none", sampling_policy=policy
    )
    assert probe.instrument(tracer_provider=provider, settings=settings)
    return exporter


def test_kept_llm_spans_of_dropped_nodes_attach_to_the_nearest_kept_ancestor(
    tmp_path: Path,
) -> None:
    # A critical rule keeps a span whatever happened to its parents (the policy sampler keeps
    # other children only under kept parents): it hangs on the nearest kept ancestor.
    exporter = _instrument(tmp_path, node_rate=0.0, llm_rule="critical: true")
    try:
        runner(parallel_iteration_app(), ScriptedFailureLLM({})).run({"topic": "t"})
    finally:
        probe.uninstrument()
    spans = list(exporter.get_finished_spans())
    chat = "chat gpt-4o-mini"
    assert span_tree(spans) == [
        (
            "invoke_workflow Parallel Iteration",
            "workflow",
            "UNSET",
            ((chat, "llm", "UNSET", ()), (chat, "llm", "UNSET", ())),
        )
    ]
    for span in spans:
        attrs = span.attributes or {}
        if attrs[semconv.SPAN_KIND] == "llm":
            # Identity of the dropped node and round still on the kept child.
            assert attrs[semconv.NODE_ID] == "ask"
            assert attrs[semconv.ITERATION_INDEX] in (0, 1)
            assert attrs[semconv.SAMPLING_REASON] == "critical"
        else:
            assert attrs[semconv.SAMPLING_REASON] == "roots"


def test_every_llm_call_is_counted_for_usage_even_when_its_span_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from probe.sampling import usage

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(usage, "record_llm_usage", lambda **kw: calls.append(kw))
    exporter = _instrument(tmp_path, node_rate=1.0, llm_rule="rate: 0.0")
    llm = ScriptedFailureLLM({})
    try:
        result = runner(parallel_iteration_app(), llm).run({"topic": "t"})
    finally:
        probe.uninstrument()
    assert result.status == "succeeded"
    kinds = {(s.attributes or {})[semconv.SPAN_KIND] for s in exporter.get_finished_spans()}
    assert "llm" not in kinds  # no llm span kept
    assert {"workflow", "node"} <= kinds
    assert len(calls) == 2
    node_calls = [c for r in result.node_results for c in r.llm_calls]
    assert sorted(c["input_tokens"] for c in calls) == sorted(
        c.usage.input_tokens for c in node_calls
    )
    for call in calls:
        assert call["workflow"] == "Parallel Iteration"
        assert call["node_id"] == "ask"
        assert call["node_type"] == "llm"
        assert call["model"] == "gpt-4o-mini"
        assert call["provider"] == "openai"
        assert call["output_tokens"] > 0
        assert call["cached_input_tokens"] == 0
