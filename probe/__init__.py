"""flowscope probe: non-invasive OpenTelemetry tracing for LLM workflow engines.

``import probe`` imports nothing it instruments (targets are dotted strings applied by wrapt
post-import hooks) and none of the OpenTelemetry SDK: the functions below load it on first use.

    import probe
    probe.instrument()      # idempotent; settings from OTEL_* / FLOWSCOPE_* variables
    ...
    probe.uninstrument()    # restores the original methods, flushes the exporter

Or, without touching the code: ``auto-instrument [--policy FILE] -- COMMAND ARGS...``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opentelemetry.trace import TracerProvider

    from probe.sampling.api import SpanSampler
    from probe.settings import ProbeSettings
    from probe.spec import TargetSet

__all__ = ["applied_targets", "instrument", "is_instrumented", "stats", "uninstrument"]


def instrument(
    *,
    settings: ProbeSettings | None = None,
    tracer_provider: TracerProvider | None = None,
    sampler: SpanSampler | None = None,
    targets: Sequence[TargetSet] | None = None,
) -> bool:
    """Start tracing; see :func:`probe.instrumentation.instrument`."""
    from probe import instrumentation

    return instrumentation.instrument(
        settings=settings, tracer_provider=tracer_provider, sampler=sampler, targets=targets
    )


def uninstrument() -> bool:
    """Stop tracing and restore the originals; see :func:`probe.instrumentation.uninstrument`."""
    from probe import instrumentation

    return instrumentation.uninstrument()


def is_instrumented() -> bool:
    from probe import instrumentation

    return instrumentation.is_instrumented()


def applied_targets() -> list[str]:
    from probe import instrumentation

    return instrumentation.applied_targets()


def stats() -> dict[str, Any]:
    """Spans ended / exported / dropped and probe-internal error counts."""
    from probe import instrumentation

    return instrumentation.stats()
