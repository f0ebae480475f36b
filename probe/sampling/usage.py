"""Exact usage accounting: every LLM call's tokens as OpenTelemetry counters, sampled or not.

Spans are sampled; these counters are not. The probe calls :func:`record_llm_usage` on every LLM
call (whether its span is kept or dropped), the metrics go over OTLP/HTTP to the collector's
``/v1/metrics`` with cumulative temporality, and the collector prices the token sums with
genai-prices, so the dashboard's totals are exact whatever the sampling policy. Names and
attributes are a contract (docs/contracts.md, "Usage metrics").

The counters live on a private :class:`MeterProvider` installed by the probe's start-up
(:func:`install_meter_provider`); the host's global meter provider is never touched. Before it
is installed (or after :func:`shutdown`) calls go to the global OpenTelemetry meter, which is a
no-op unless the host configured one.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import TYPE_CHECKING, NamedTuple

from opentelemetry import metrics

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.util.types import AttributeValue

logger = logging.getLogger(__name__)

# Contract names (docs/contracts.md, "Usage metrics").
TOKENS_METRIC = "flowscope.llm.tokens"
CALLS_METRIC = "flowscope.llm.calls"
METER_NAME = "flowscope.probe.usage"
WORKFLOW = "flowscope.workflow.name"
NODE_ID = "flowscope.node.id"
NODE_TYPE = "flowscope.node.type"
PROVIDER = "gen_ai.provider.name"
MODEL = "gen_ai.request.model"
TOKEN_TYPE = "gen_ai.token.type"  # "input" (cached included) | "output" | "cache_read"

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"


class _Instruments(NamedTuple):
    tokens: metrics.Counter
    calls: metrics.Counter


def _instruments(meter: metrics.Meter) -> _Instruments:
    return _Instruments(
        tokens=meter.create_counter(
            TOKENS_METRIC, unit="{token}", description="LLM tokens, every call, sampled or not"
        ),
        calls=meter.create_counter(
            CALLS_METRIC, unit="{call}", description="LLM calls, every call, sampled or not"
        ),
    )


_lock = threading.Lock()
_provider: MeterProvider | None = None
_installed: _Instruments | None = None
_fallback: _Instruments | None = None
_failures: set[str] = set()


def metrics_endpoint(endpoint: str | None) -> str:
    """``OTEL_EXPORTER_OTLP_ENDPOINT``-style base URL → the OTLP/HTTP metrics URL."""
    base = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
    return base if base.endswith("/v1/metrics") else f"{base}/v1/metrics"


def install_meter_provider(
    endpoint: str | None,
    resource: Resource | None = None,
    *,
    export_interval_ms: int = 10_000,
    export_timeout_s: float = 5.0,
    exporter: MetricExporter | None = None,
    reader: MetricReader | None = None,
) -> MeterProvider:
    """Create the probe's private meter provider exporting to ``{endpoint}/v1/metrics``.

    ``endpoint`` is the OTLP base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``; None → 127.0.0.1:4318).
    A ``service.instance.id`` is added to ``resource`` when missing so that the cumulative series
    of two processes of one service never merge. Idempotent: a second call replaces the first
    provider after flushing it. ``export_timeout_s`` bounds one export (retries included), so a
    collector that is down never holds the host's exit for long. ``exporter`` replaces the OTLP
    exporter; ``reader`` replaces the periodic reader altogether (an ``InMemoryMetricReader``).
    """
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    global _provider, _installed
    base = resource if resource is not None else Resource.create()
    if "service.instance.id" not in base.attributes:
        base = base.merge(Resource({"service.instance.id": str(uuid.uuid4())}))
    if reader is None:
        reader = PeriodicExportingMetricReader(
            exporter
            or OTLPMetricExporter(endpoint=metrics_endpoint(endpoint), timeout=export_timeout_s),
            export_interval_millis=export_interval_ms,
        )
    provider = MeterProvider(resource=base, metric_readers=[reader])
    shutdown()
    with _lock:
        _provider = provider
        _installed = _instruments(provider.get_meter(METER_NAME))
    return provider


def force_flush(timeout_ms: int = 10_000) -> bool:
    """Export the current totals now (the bench and the probe's exit path use it)."""
    provider = _provider
    return provider.force_flush(timeout_ms) if provider is not None else True


def shutdown(timeout_ms: int = 5_000) -> None:
    """Flush and stop the probe's meter provider (idempotent); safe to call at exit."""
    global _provider, _installed
    with _lock:
        provider, _provider, _installed = _provider, None, None
    if provider is not None:
        provider.shutdown(timeout_millis=timeout_ms)


def _current() -> _Instruments:
    global _fallback
    if _installed is not None:
        return _installed
    if _fallback is None:
        _fallback = _instruments(metrics.get_meter(METER_NAME))
    return _fallback


def record_llm_usage(
    *,
    workflow: str | None,
    node_id: str | None,
    node_type: str | None,
    provider: str | None,
    model: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_input_tokens: int | None,
) -> None:
    """Count one LLM call. Called by the probe on EVERY call, whether its span is kept or not.

    ``input_tokens`` includes cached ones (as providers and ``gen_ai.usage.input_tokens`` report
    them); ``cached_input_tokens`` is that cached subset. None means "not reported" (counted as
    0). Never raises into the host: a failure is logged once per cause.
    """
    try:
        instruments = _current()
        base: dict[str, AttributeValue] = {}
        for key, value in (
            (WORKFLOW, workflow),
            (NODE_ID, node_id),
            (NODE_TYPE, node_type),
            (PROVIDER, provider),
            (MODEL, model),
        ):
            if value is not None:
                base[key] = value
        instruments.calls.add(1, base)
        for token_type, count in (
            ("input", input_tokens),
            ("output", output_tokens),
            ("cache_read", cached_input_tokens),
        ):
            if count:
                instruments.tokens.add(int(count), {**base, TOKEN_TYPE: token_type})
    except Exception as exc:  # the probe never breaks its host
        cause = f"{type(exc).__name__}: {exc}"
        if cause not in _failures:
            _failures.add(cause)
            logger.warning("flowscope usage metrics: cannot record an LLM call (%s)", cause)
