"""Trigger deliveries: the root of the event's trace, continuing the caller's W3C context."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from probe_support import OFFLINE, DeliveryStandIn, TriggerEvent

import probe
from probe import semconv
from probe.spec import Target, TargetSet
from probe.targets import WORKFLOW_CORE

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _trigger_set() -> TargetSet:
    (trigger,) = [t for t in WORKFLOW_CORE.targets if t.kind == semconv.KIND_TRIGGER]
    assert trigger.target == "workflow_core.triggers.delivery:TriggerDelivery.deliver"
    stand_in = Target(
        "probe_support:DeliveryStandIn.deliver",
        trigger.kind,
        trigger.params,
        enter=trigger.enter,
        describe=trigger.describe,
        finish=trigger.finish,
        failed=trigger.failed,
    )
    others = [t for t in WORKFLOW_CORE.targets if t.kind != semconv.KIND_TRIGGER]
    return TargetSet("workflow_core", WORKFLOW_CORE.supported, (stand_in, *others))


def test_trigger_span_roots_the_event_trace_under_the_callers_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.uninstrument()
    assert probe.instrument(tracer_provider=provider, settings=OFFLINE, targets=[_trigger_set()])
    event = TriggerEvent(
        id="evt-1",
        trigger_id="orders",
        trigger_type="webhook",
        payload={"topic": "t"},
        headers={"Traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "X-Other": "1"},
    )
    try:
        outcome = DeliveryStandIn().deliver(event)
    finally:
        probe.uninstrument()
    assert outcome.ok
    spans = list(exporter.get_finished_spans())
    (root,) = [s for s in spans if s.name == "trigger orders"]
    assert format(root.context.trace_id, "032x") == CALLER_TRACE
    assert root.parent is not None and format(root.parent.span_id, "016x") == CALLER_SPAN
    attrs = root.attributes or {}
    assert attrs[semconv.SPAN_KIND] == "trigger"
    assert attrs[semconv.TRIGGER_TYPE] == "webhook"
    assert attrs[semconv.TRIGGER_ID] == "orders"
    assert attrs[semconv.TRIGGER_EVENT_ID] == "evt-1"
    assert attrs[semconv.WORKFLOW_RUN_ID] == outcome.run_id
    (workflow,) = [s for s in spans if s.name == "invoke_workflow Parallel Iteration"]
    assert workflow.parent is not None and workflow.parent.span_id == root.context.span_id
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert (workflow.attributes or {})[semconv.TRIGGER_ID] == "orders"


def test_trigger_without_traceparent_starts_a_new_trace() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.uninstrument()
    assert probe.instrument(tracer_provider=provider, settings=OFFLINE, targets=[_trigger_set()])
    event = TriggerEvent("evt-2", "nightly", "schedule", {"topic": "t"}, {})
    try:
        DeliveryStandIn().deliver(event)
    finally:
        probe.uninstrument()
    (root,) = [s for s in exporter.get_finished_spans() if s.name == "trigger nightly"]
    assert root.parent is None


def test_root_under_a_host_span_does_not_leak_its_trace_id_to_the_next_trace() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.uninstrument()
    assert probe.instrument(tracer_provider=provider, settings=OFFLINE, targets=[_trigger_set()])
    host = provider.get_tracer("host")
    try:
        with host.start_as_current_span("worker loop"):
            DeliveryStandIn().deliver(TriggerEvent("e1", "a", "schedule", {"topic": "t"}, {}))
        DeliveryStandIn().deliver(TriggerEvent("e2", "b", "schedule", {"topic": "t"}, {}))
    finally:
        probe.uninstrument()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    worker, first, second = spans["worker loop"], spans["trigger a"], spans["trigger b"]
    assert first.parent is not None and first.parent.span_id == worker.context.span_id
    assert first.context.trace_id == worker.context.trace_id
    assert second.parent is None
    assert second.context.trace_id != first.context.trace_id
