"""The contract between the probe's wrappers (hot path) and the sampling policy.

The wrappers ask :meth:`SpanSampler.decide` *before* they touch the OpenTelemetry SDK, so a span
that is sampled out costs a dictionary lookup and a random draw, not an SDK span. The sampler
must therefore answer from precomputed, cached state: no allocation-heavy work, no locks on the
common path, no I/O.

Call order for one span, from the probe's wrapper:

1. ``decision = sampler.decide(kind, workflow, node_type, trace_id, parent_sampled)``
2. run the wrapped function (inside a span if ``decision.sampled``)
3. ``sampler.record(kind, workflow, node_type, error)`` — for every span, sampled or not, so the
   error-rate windows and the TPS meter see all traffic. A sampler that counts spans in
   ``decide`` says so with an attribute ``record_successes``: while it is False the probe calls
   ``record`` only for spans that ended with an error (one call less on the drop path).

Arguments: ``workflow`` is the workflow name (policy rules glob-match it), ``node_type`` the Dify
type of the node the span belongs to (also on its llm/tool/... children), ``trace_id`` the
128-bit trace id (decisions compare its low 64 bits, so every process agrees), ``parent_sampled``
whether the enclosing span was kept. Workflow and trigger spans are roots and decide on their own;
any other span with ``parent_sampled=False`` is dropped unless forced (critical, error boost) —
a probe whose first span is of another kind should pass True for it. ``critical`` is the
probe's own "always keep" flag, matched by rules with ``attributes: {critical: true}``.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class Decision(NamedTuple):
    sampled: bool
    rate: float  # keep probability that applied; adjusted count = 1 / rate
    reason: str  # rule id, "error_boost", "adaptive", "critical", "parent", "always_on"


class SpanSampler(Protocol):
    def decide(
        self,
        kind: str,
        workflow: str | None,
        node_type: str | None,
        trace_id: int,
        parent_sampled: bool,
        critical: bool = False,
    ) -> Decision:
        """Keep or drop one span. ``kind`` is a ``flowscope.span.kind`` value."""
        ...

    def record(self, kind: str, workflow: str | None, node_type: str | None, error: bool) -> None:
        """Count one finished span (kept or not) for error-rate windows and load metering."""
        ...


_KEEP = Decision(True, 1.0, "always_on")


class _AlwaysOn:
    """Keeps every span: the probe's default when no policy file is configured."""

    def decide(
        self,
        kind: str,
        workflow: str | None,
        node_type: str | None,
        trace_id: int,
        parent_sampled: bool,
        critical: bool = False,
    ) -> Decision:
        return _KEEP

    def record(self, kind: str, workflow: str | None, node_type: str | None, error: bool) -> None:
        return None


ALWAYS_ON: SpanSampler = _AlwaysOn()
