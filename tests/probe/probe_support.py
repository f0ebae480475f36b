"""Helpers for the probe's tests: span trees, synthetic Dify apps, a provider that fails on cue.

(A uniquely named module: tests/*/ directories put themselves on sys.path.)
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from probe.settings import ProbeSettings
from workflow_core.context import Services
from workflow_core.dsl import DifyApp, parse_app
from workflow_core.errors import ProviderError
from workflow_core.providers.base import LLMRequest, LLMResponse
from workflow_core.providers.simulated import SimulatedLLM
from workflow_core.runner import WorkflowRunner
from workflow_core.sandbox import CodeSandbox
from workflow_core.settings import RunSettings

# Tests never export over the network unless they say so.
OFFLINE = ProbeSettings(traces_exporter="none", metrics_exporter="none")


@dataclass
class Traced:
    exporter: InMemorySpanExporter
    provider: TracerProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def by_name(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]


Node = tuple[str, str, str, tuple["Node", ...]]  # (name, flowscope.span.kind, status, children)


def span_tree(spans: list[ReadableSpan]) -> list[Node]:
    """Spans as nested ``(name, kind, status, children)``; siblings by name, then start time."""
    children: dict[int | None, list[ReadableSpan]] = {}
    ids = {s.context.span_id for s in spans}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)

    def build(parent: int | None) -> list[Node]:
        nodes = sorted(children.get(parent, []), key=lambda s: (s.name, s.start_time or 0))
        return [
            (
                s.name,
                str((s.attributes or {}).get("flowscope.span.kind")),
                s.status.status_code.name,
                tuple(build(s.context.span_id)),
            )
            for s in nodes
        ]

    return build(None)


class ScriptedFailureLLM(SimulatedLLM):
    """The simulated provider, failing the first ``failures[node_id]`` calls of a node."""

    def __init__(self, failures: dict[str, int]) -> None:
        super().__init__()
        self.failures = dict(failures)
        self.calls: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def _invoke(self, request: LLMRequest) -> LLMResponse:
        node = request.node_id or ""
        with self._count_lock:
            self.calls[node] += 1
            fail = self.calls[node] <= self.failures.get(node, 0)
        if fail:
            raise ProviderError(f"scripted failure of node {node} (call {self.calls[node]})")
        return super()._invoke(request)


def _node(node_id: str, data: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": node_id, "type": "custom", "data": data}
    if parent:
        raw["parentId"] = parent
        raw["data"] = {**data, "isInIteration": True, "iteration_id": parent}
    return raw


def _edge(source: str, target: str) -> dict[str, Any]:
    return {
        "id": f"{source}-{target}",
        "source": source,
        "target": target,
        "sourceHandle": "source",
        "targetHandle": "target",
        "data": {},
    }


def parallel_iteration_app(*, retries: int = 1) -> DifyApp:
    """start ─┬─ code Split ── iteration Iter{ iteration-start → llm Ask (retried) } ─┬─ end
    └─ template-transform Tmpl ──────────────────────────────────────────┘
    """
    ask: dict[str, Any] = {
        "type": "llm",
        "title": "Ask",
        "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat"},
        "prompt_template": [{"role": "user", "text": "Tell me about {{#iter.item#}}"}],
        "retry_config": {"retry_enabled": True, "max_retries": retries, "retry_interval": 0},
    }
    nodes = [
        _node(
            "start",
            {
                "type": "start",
                "title": "Start",
                "variables": [
                    {"variable": "topic", "label": "topic", "type": "text-input", "required": True}
                ],
            },
        ),
        _node(
            "split",
            {
                "type": "code",
                "title": "Split",
                "code_language": "python3",
                "code": "def main(topic: str) -> dict:\n"
                "    return {'items': [topic + ' one', topic + ' two']}\n",
                "variables": [{"variable": "topic", "value_selector": ["start", "topic"]}],
                "outputs": {"items": {"type": "array[string]"}},
            },
        ),
        _node(
            "iter",
            {
                "type": "iteration",
                "title": "Iter",
                "iterator_selector": ["split", "items"],
                "output_selector": ["ask", "text"],
                "start_node_id": "iterstart",
            },
        ),
        _node("iterstart", {"type": "iteration-start", "title": ""}, parent="iter"),
        _node("ask", ask, parent="iter"),
        _node(
            "tmpl",
            {
                "type": "template-transform",
                "title": "Tmpl",
                "template": "Topic: {{ topic }}",
                "variables": [{"variable": "topic", "value_selector": ["start", "topic"]}],
            },
        ),
        _node(
            "end",
            {
                "type": "end",
                "title": "End",
                "outputs": [
                    {"variable": "answers", "value_selector": ["iter", "output"]},
                    {"variable": "heading", "value_selector": ["tmpl", "output"]},
                ],
            },
        ),
    ]
    edges = [
        _edge("start", "split"),
        _edge("start", "tmpl"),
        _edge("split", "iter"),
        _edge("iterstart", "ask"),
        _edge("iter", "end"),
        _edge("tmpl", "end"),
    ]
    raw = {
        "kind": "app",
        "version": "0.1.5",
        "app": {"name": "Parallel Iteration", "mode": "workflow"},
        "workflow": {"graph": {"nodes": nodes, "edges": edges}},
    }
    return parse_app(raw, source="parallel_iteration.yml")


def runner(app: DifyApp, llm: SimulatedLLM | None = None, workers: int = 4) -> WorkflowRunner:
    services = Services(llm=llm or SimulatedLLM(), sandbox=CodeSandbox(timeout_seconds=30))
    return WorkflowRunner(app, services=services, settings=RunSettings(max_workers=workers))


@dataclass(frozen=True)
class TriggerEvent:
    """The fields of ``workflow_core.store.triggers.TriggerEventRecord`` the probe reads."""

    id: str
    trigger_id: str
    trigger_type: str
    payload: Any
    headers: Any


@dataclass(frozen=True)
class Delivered:
    ok: bool
    run_id: str | None
    status: str
    error: str | None = None


class DeliveryStandIn:
    """Shaped like ``TriggerDelivery.deliver(self, event)``: runs the synthetic app."""

    def deliver(self, event: TriggerEvent) -> Delivered:
        result = runner(parallel_iteration_app(), ScriptedFailureLLM({})).run(event.payload)
        return Delivered(result.status == "succeeded", result.run_id, result.status, result.error)
