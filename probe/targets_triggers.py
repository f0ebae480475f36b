"""Targets for flowscope's trigger service (``workflow_core.triggers``).

One span per delivery attempt of a trigger event: ``trigger {trigger_id}`` (kind ``trigger``),
the root of the event's trace. When the webhook caller sent a W3C ``traceparent`` (kept on the
event: ``TriggerDelivery.deliver(self, event)`` → ``event.headers``), the span continues the
caller's trace as a child of the caller's span. The workflow run and the callback
(``HttpClient.send``) nest under it through the ordinary workflow_core targets.

Importing this module imports nothing from workflow_core.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from probe import extractors as x
from probe import semconv
from probe.redaction import Redactor
from probe.spec import Args, Attributes, Kwargs, Run, Scope, Target, TargetSet

_PROPAGATOR = TraceContextTextMapPropagator()


def _event(args: Args, kwargs: Kwargs) -> Any:
    return x.arg(args, kwargs, 0, "event")


def enter_trigger(parent: Scope | None, instance: Any, args: Args, kwargs: Kwargs) -> Scope:
    """A new run rooted at the trigger; under the caller's span when a traceparent came in."""
    event = _event(args, kwargs)
    headers = getattr(event, "headers", None)
    carrier = (
        {str(k).lower(): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}
    )
    if parent is None and "traceparent" in carrier:
        context = _PROPAGATOR.extract(carrier)
        remote = trace.get_current_span(context).get_span_context()
        if remote.is_valid:
            run = Run(remote.trace_id, None, {}, external=context)
            # A placeholder parent holding the same run makes the span's parent the caller's
            # span (``Run.detached_parent`` returns the external context).
            return Scope(Scope(None, run, None), run, None)
    if parent is not None and parent.run is not None:
        return Scope(parent, Run(parent.run.trace_id, None, {}), None)
    return Scope(parent, Run(random.getrandbits(128) or 1, None, {}), None)


def describe_trigger(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    event = _event(args, kwargs)
    trigger_id = str(getattr(event, "trigger_id", "") or "")
    attrs: Attributes = {
        semconv.TRIGGER_TYPE: str(getattr(event, "trigger_type", "") or ""),
        semconv.TRIGGER_ID: trigger_id,
        semconv.TRIGGER_EVENT_ID: str(getattr(event, "id", "") or ""),
        "flowscope.trigger.attempt": int(getattr(event, "attempts", 0) or 0),
    }
    return f"trigger {trigger_id or 'event'}", attrs


def finish_trigger(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, result: Any, capture: Redactor | None
) -> Attributes:
    """Run id, status and error of the outcome (as on a workflow span), and run reuse."""
    attrs = x.finish_workflow(scope, instance, args, kwargs, result, capture)
    if getattr(result, "reused_run", False):
        attrs["flowscope.trigger.reused_run"] = True
    return attrs


def trigger_failed(result: Any) -> bool:
    return getattr(result, "ok", True) is False


TARGET_SET = TargetSet(
    library="workflow_core",
    supported=">=0.1,<0.2",
    description="flowscope's trigger service: one root span per trigger event delivery",
    targets=(
        Target(
            "workflow_core.triggers.delivery:TriggerDelivery.deliver",
            semconv.KIND_TRIGGER,
            ("event",),
            enter=enter_trigger,
            describe=describe_trigger,
            finish=finish_trigger,
            failed=trigger_failed,
        ),
    ),
)
