"""The probe never breaks its host: failing extractors, unknown signatures, odd versions."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from probe_support import OFFLINE, parallel_iteration_app, runner

import probe
from probe import extractors as x
from probe import guard, semconv
from probe.sampling.api import Decision
from probe.spec import Target, TargetSet
from probe.targets import WORKFLOW_CORE

NODE_TARGET = "workflow_core.runner:WorkflowRunner.execute_node"


def _broken_describe(*args: Any) -> Any:
    raise ZeroDivisionError("extractor bug")


def _with_targets(target_set: TargetSet, **kwargs: Any) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.uninstrument()
    guard.reset()
    assert probe.instrument(
        tracer_provider=provider, settings=OFFLINE, targets=[target_set], **kwargs
    )
    return exporter


def _outputs() -> Any:
    result = runner(parallel_iteration_app()).run({"topic": "t"})
    return result.status, result.outputs


def test_failing_extractor_is_logged_once_counted_and_host_unaffected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    probe.uninstrument()
    expected = _outputs()
    broken = TargetSet(
        "workflow_core",
        ">=0.1,<0.2",
        (Target(NODE_TARGET, semconv.KIND_NODE, ("node", "ctx"), x.enter_node, _broken_describe),),
    )
    _with_targets(broken)
    try:
        with caplog.at_level(logging.WARNING, logger="probe"):
            assert _outputs() == expected
            assert _outputs() == expected
    finally:
        probe.uninstrument()
    warnings = [r for r in caplog.records if "extractor bug" in r.getMessage()]
    assert len(warnings) == 1
    assert guard.error_counts()[NODE_TARGET] == 2 * 9  # 9 node executions per run (2 rounds of 2)


def test_failing_sampler_record_does_not_break_host() -> None:
    class BrokenRecord:
        def decide(self, *args: Any) -> Decision:
            return Decision(False, 0.0, "test")

        def record(self, *args: Any) -> None:
            raise RuntimeError("sampler bug")

    probe.uninstrument()
    expected = _outputs()
    _with_targets(WORKFLOW_CORE, sampler=BrokenRecord())
    try:
        assert _outputs() == expected
    finally:
        probe.uninstrument()
    assert sum(guard.error_counts().values()) > 0


def test_unrecognised_signature_skips_target_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stale = TargetSet(
        "workflow_core",
        ">=0.1,<0.2",
        (
            Target(
                NODE_TARGET, semconv.KIND_NODE, ("spec", "context"), x.enter_node, x.describe_node
            ),
            Target(
                "workflow_core.runner:WorkflowRunner.no_such_method",
                semconv.KIND_NODE,
                ("node",),
                x.enter_node,
                x.describe_node,
            ),
        ),
    )
    with caplog.at_level(logging.WARNING, logger="probe"):
        exporter = _with_targets(stale)
        try:
            assert probe.applied_targets() == []
            _outputs()
            assert exporter.get_finished_spans() == ()
        finally:
            probe.uninstrument()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unrecognised signature" in m and "('spec', 'context')" in m for m in messages) == 1
    assert sum("no_such_method not found" in m for m in messages) == 1


def test_version_outside_window_warns_once_and_still_applies_matching_targets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    future = TargetSet("workflow_core", ">=9.0", WORKFLOW_CORE.targets)
    with caplog.at_level(logging.WARNING, logger="probe"):
        exporter = _with_targets(future)
        try:
            _outputs()
        finally:
            probe.uninstrument()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("outside the supported window >=9.0" in m for m in messages) == 1
    assert exporter.get_finished_spans()


def test_bad_sampling_policy_falls_back_to_keep_everything(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nrules:\n- id: x\n  rate: 7\n", encoding="utf-8")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.uninstrument()
    guard.reset()
    settings = OFFLINE.__class__(
        traces_exporter="none", metrics_exporter="none", sampling_policy=policy
    )
    with caplog.at_level(logging.WARNING, logger="probe"):
        assert probe.instrument(tracer_provider=provider, settings=settings)
        try:
            _outputs()
        finally:
            probe.uninstrument()
    assert any("policy.yaml not used" in r.getMessage() for r in caplog.records)
    reasons = {(s.attributes or {})["sampling.reason"] for s in exporter.get_finished_spans()}
    assert reasons == {"always_on"}
