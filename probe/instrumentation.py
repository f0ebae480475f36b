"""``instrument()`` / ``uninstrument()``: the probe's lifecycle inside a host process."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from probe import guard, logcorrelation
from probe._wrappers import Runtime, install_trace_ids, make_method, make_wrapper
from probe.export import Pipeline, build_pipeline
from probe.patching import Patcher
from probe.redaction import Redactor
from probe.sampling.api import ALWAYS_ON, SpanSampler
from probe.settings import ProbeSettings
from probe.spec import TargetSet
from probe.targets import target_sets

logger = logging.getLogger("probe")

INSTRUMENTATION_NAME = "flowscope.probe"


@dataclass
class _State:
    patcher: Patcher
    runtime: Runtime
    pipeline: Pipeline | None
    owns_sampler: bool


_lock = threading.RLock()
_state: _State | None = None
_atexit_registered = False
_final_counts: dict[str, int] = {}  # export accounting of the last pipeline shut down


def instrument(
    *,
    settings: ProbeSettings | None = None,
    tracer_provider: TracerProvider | None = None,
    sampler: SpanSampler | None = None,
    targets: Sequence[TargetSet] | None = None,
) -> bool:
    """Start tracing the target libraries; returns False when already instrumented.

    ``settings`` default to :meth:`ProbeSettings.from_env`. Without ``tracer_provider`` the
    probe uses the host's global SDK provider if it set one, else builds its own OTLP/HTTP
    pipeline from the settings (and flushes it at exit, bounded
    by ``FLOWSCOPE_SHUTDOWN_TIMEOUT_MS``). Without ``sampler`` it loads the sampling policy
    named by the settings, or keeps every span.
    """
    global _state
    with _lock:
        if _state is not None:
            return False
        settings = settings or ProbeSettings.from_env()
        # one redactor: secrets seen in captured payloads are scrubbed from exported logs too
        redactor = Redactor(settings.redact_patterns, settings.capture_max_bytes)
        pipeline = None
        if tracer_provider is None:
            tracer_provider = _host_provider()
        if tracer_provider is None:
            pipeline = build_pipeline(settings, redactor)
            tracer_provider = pipeline.provider
            _register_exit_hook()
        owns_sampler = sampler is None
        if sampler is None:
            sampler = _load_sampler(settings)
        if pipeline is not None and pipeline.processor is not None:
            set_depth = getattr(sampler, "set_queue_depth_source", None)
            if callable(set_depth):
                set_depth(pipeline.processor.queue_depth)
        tracer = tracer_provider.get_tracer(INSTRUMENTATION_NAME)
        capture = redactor if settings.capture_content else None
        runtime = Runtime(tracer, sampler, capture, install_trace_ids(tracer))
        patcher = Patcher(
            list(targets) if targets is not None else target_sets(),
            lambda target: make_wrapper(target, runtime),
            (lambda target, original: make_method(target, runtime, original))
            if settings.wrapper == "function"
            else None,
        )
        _state = _State(patcher, runtime, pipeline, owns_sampler)
        logcorrelation.install()
        patcher.start()
        return True


def uninstrument() -> bool:
    """Restore every wrapped method, flush and close what ``instrument()`` built.

    Returns False when the probe was not instrumented.
    """
    global _state
    with _lock:
        state, _state = _state, None
    if state is None:
        return False
    state.patcher.stop()
    logcorrelation.uninstall()
    if state.owns_sampler:
        close = getattr(state.runtime.sampler, "close", None)
        if callable(close):
            close()
    if state.pipeline is not None:
        _final_counts.clear()
        _final_counts.update(state.pipeline.shutdown())
    return True


def is_instrumented() -> bool:
    return _state is not None


def applied_targets() -> list[str]:
    """Dotted names of the methods currently wrapped."""
    state = _state
    return state.patcher.applied if state is not None else []


def stats() -> dict[str, Any]:
    """Export and probe-health counters (spans ended/exported/dropped, internal errors).

    After ``uninstrument()`` the export counts are those of the final, flushed state.
    """
    state = _state
    counts: dict[str, Any] = {}
    if state is not None and state.pipeline is not None:
        counts.update(state.pipeline.snapshot())
    elif state is None:
        counts.update(_final_counts)
    counts["probe_errors"] = sum(guard.error_counts().values())
    return counts


def _load_sampler(settings: ProbeSettings) -> SpanSampler:
    if settings.sampling_policy is None:
        return ALWAYS_ON
    try:
        from probe.sampling import load_sampler

        return load_sampler(str(settings.sampling_policy))
    except Exception as exc:
        guard.warn_once(
            "sampling policy",
            "flowscope probe: sampling policy %s not used (%s: %s); keeping every span",
            settings.sampling_policy,
            type(exc).__name__,
            exc,
        )
        return ALWAYS_ON


def _register_exit_hook() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(uninstrument)


def _host_provider() -> TracerProvider | None:
    """The host's own SDK TracerProvider, when it configured one globally."""
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    provider = trace.get_tracer_provider()
    return provider if isinstance(provider, SdkTracerProvider) else None
