"""The policy sampler inside the real probe, running real corpus workflows on the real core."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import probe
from probe.sampling import load_sampler, usage
from probe.sampling.sampler import PolicySampler
from probe.settings import ProbeSettings

CORPUS = Path(
    os.environ.get("FLOWSCOPE_CORPUS")
    or os.environ.get("FLOWSCOPE_DSL_CORPUS")
    or Path(__file__).resolve().parents[4] / "shared/dify-dsl"
)
POLICY = {
    "version": 1,
    "rules": [
        {"id": "critical", "match": {"workflow": "translation_workflow"}, "critical": True},
        {"id": "skeleton", "match": {"kind": ["workflow", "node"]}},
        {"id": "llm", "match": {"kind": "llm"}, "rate": 0.2},
        {"id": "default"},
    ],
}
OFFLINE = ProbeSettings.from_env({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"})


class Run:
    def __init__(self, exporter: InMemorySpanExporter, reader: InMemoryMetricReader) -> None:
        self.exporter = exporter
        self.reader = reader

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def token_totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        data = self.reader.get_metrics_data()
        assert data is not None
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for point in metric.data.data_points:  # type: ignore[union-attr]
                        key = str(point.attributes.get("gen_ai.token.type", "calls"))
                        totals[key] += int(point.value)  # type: ignore[union-attr]
        return totals


@pytest.fixture
def instrumented(tmp_path: Path) -> Iterator[Run]:
    path = tmp_path / "sampling.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    sampler = load_sampler(str(path), watch=False)
    assert isinstance(sampler, PolicySampler)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    usage.install_meter_provider(None, reader=reader)
    probe.uninstrument()
    assert probe.instrument(tracer_provider=provider, settings=OFFLINE, sampler=sampler)
    try:
        yield Run(exporter, reader)
    finally:
        probe.uninstrument()
        provider.shutdown()
        usage.shutdown()


def runner(name: str) -> Any:
    from workflow_core.services import build_runner

    return build_runner(CORPUS / name, environ={})


def test_llm_spans_sampled_at_20pct_with_their_parents_and_exact_token_counters(
    instrumented: Run,
) -> None:
    seo = runner("SEO_Slug_Generator.yml")
    results = [seo.run({"title": f"post number {index}"}) for index in range(150)]
    assert all(r.status == "succeeded" for r in results)
    spans = instrumented.spans()
    kinds = Counter(str(s.attributes["flowscope.span.kind"]) for s in spans if s.attributes)
    assert kinds["workflow"] == 150  # the skeleton is kept whole
    assert kinds["node"] == 150 * 3
    assert 10 <= kinds["llm"] <= 55  # 20 % of 150 = 30; binomial sd ~ 4.9
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    for span in spans:
        assert span.attributes is not None
        if span.attributes["flowscope.span.kind"] == "llm":
            assert span.attributes["sampling.rate"] == 0.2
            assert span.attributes["sampling.reason"] == "llm"
            assert span.parent is not None and span.parent.span_id in by_id  # parent kept
        else:
            assert span.attributes["sampling.reason"] == "skeleton"
    # Every LLM call is counted, kept span or not.
    totals = instrumented.token_totals()
    assert totals["calls"] == 150
    llm_nodes = [n for r in results for n in r.node_results if n.node_type == "llm"]
    assert totals["input"] == sum(n.usage.input_tokens for n in llm_nodes)
    assert totals["output"] == sum(n.usage.output_tokens for n in llm_nodes)
    kept_input = sum(
        int(s.attributes["gen_ai.usage.input_tokens"])  # type: ignore[index]
        for s in spans
        if s.attributes and s.attributes["flowscope.span.kind"] == "llm"
    )
    assert totals["input"] > kept_input > 0  # the counters see more than the kept spans


def test_critical_workflow_keeps_every_span(instrumented: Run) -> None:
    translation = runner("translation_workflow.yml")
    inputs = {"target_lang": "French", "source_text": "Good morning", "source_lang": "English"}
    for _ in range(10):
        assert translation.run(inputs).status == "succeeded"
    spans = instrumented.spans()
    llm = [s for s in spans if s.attributes and s.attributes["flowscope.span.kind"] == "llm"]
    assert len(llm) == instrumented.token_totals()["calls"] > 0
    assert {s.attributes["sampling.reason"] for s in spans if s.attributes} == {"critical"}
