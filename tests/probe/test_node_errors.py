"""Node results that count as errors: span status, error-strategy outcome, sampler accounting."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from probe_support import OFFLINE, Traced, _edge, _node, runner

import probe
from probe import semconv
from probe.sampling.api import Decision
from workflow_core.dsl import DifyApp, parse_app


def _failing_code_app(strategy: str | None) -> DifyApp:
    """start → code Boom (raises; ``strategy`` handles it or not) → end."""
    boom: dict[str, Any] = {
        "type": "code",
        "title": "Boom",
        "code_language": "python3",
        "code": "def main() -> dict:\n    raise ValueError('boom')\n",
        "variables": [],
        "outputs": {"result": {"type": "string"}},
    }
    if strategy is not None:
        boom["error_strategy"] = strategy
        boom["default_value"] = [{"key": "result", "type": "string", "value": "fallback"}]
    nodes = [
        _node("start", {"type": "start", "title": "Start", "variables": []}),
        _node("boom", boom),
        _node("end", {"type": "end", "title": "End", "outputs": []}),
    ]
    raw = {
        "kind": "app",
        "version": "0.1.5",
        "app": {"name": "Failing", "mode": "workflow"},
        "workflow": {
            "graph": {"nodes": nodes, "edges": [_edge("start", "boom"), _edge("boom", "end")]}
        },
    }
    return parse_app(raw, source="failing.yml")


def test_handled_node_failure_is_an_error_span_with_its_outcome(traced: Traced) -> None:
    result = runner(_failing_code_app("default-value")).run({})
    assert result.status == "partial-succeeded"  # Dify: a handled failure
    (span,) = traced.by_name("code Boom")
    attrs = span.attributes or {}
    assert not span.status.is_ok
    assert attrs[semconv.NODE_STATUS] == "exception"
    assert attrs[semconv.ERROR_STRATEGY_OUTCOME] == "handled"
    (root,) = traced.by_name("invoke_workflow Failing")
    assert root.status.is_ok


def test_unhandled_node_failure_fails_node_and_workflow_spans(traced: Traced) -> None:
    result = runner(_failing_code_app(None)).run({})
    assert result.status == "failed"
    (span,) = traced.by_name("code Boom")
    assert not span.status.is_ok
    assert (span.attributes or {})[semconv.NODE_STATUS] == "failed"
    (root,) = traced.by_name("invoke_workflow Failing")
    assert not root.status.is_ok


class DropAllRecorder:
    """Drops every span and keeps what ``record`` was told (no ``record_successes``: every
    call is recorded)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str | None, str | None, bool]] = []

    def decide(self, *args: Any) -> Decision:
        return Decision(False, 0.0, "drop")

    def record(self, kind: str, workflow: str | None, node_type: str | None, error: bool) -> None:
        self.records.append((kind, workflow, node_type, error))


@pytest.mark.parametrize("wrapper", ["function", "wrapt"])
@pytest.mark.parametrize(("strategy", "workflow_error"), [("default-value", False), (None, True)])
def test_dropped_failed_node_is_recorded_as_an_error(
    wrapper: str, strategy: str | None, workflow_error: bool
) -> None:
    sampler = DropAllRecorder()
    probe.uninstrument()
    settings = dataclasses.replace(OFFLINE, wrapper=wrapper)
    assert probe.instrument(settings=settings, sampler=sampler)
    try:
        runner(_failing_code_app(strategy)).run({})
    finally:
        probe.uninstrument()
    nodes = {r[2]: r[3] for r in sampler.records if r[0] == semconv.KIND_NODE}
    expected = {"start": False, "code": True}
    if not workflow_error:
        expected["end"] = False  # the run went on past the handled failure
    assert nodes == expected
    (workflow,) = [r for r in sampler.records if r[0] == semconv.KIND_WORKFLOW]
    assert workflow[3] is workflow_error
