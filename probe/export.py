"""The probe's OpenTelemetry pipeline: TracerProvider → BatchSpanProcessor → OTLP/HTTP.

The host never waits on the collector: ``on_end`` only appends to a bounded queue (drops when
full), export runs on the SDK's worker thread with a short timeout, and the exit flush is capped
by ``FLOWSCOPE_SHUTDOWN_TIMEOUT_MS``. Every span that is not acknowledged by the collector is
counted as dropped: queue overflow, failed exports, and whatever is still queued at exit. The
counts are available from :func:`probe.stats`, as the metric ``flowscope.probe.spans`` and in one
log line at exit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)

from probe import guard
from probe.redaction import REDACTED, Redactor, is_sensitive_key
from probe.settings import ProbeSettings

logger = logging.getLogger("probe")


@dataclass
class ExportStats:
    """Span accounting of one export pipeline (thread-safe counters)."""

    ended: int = 0
    exported: int = 0
    failed: int = 0
    queue_full: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + count)

    def snapshot(self, queued: int = 0) -> dict[str, int]:
        with self._lock:
            lost = max(0, self.ended - self.exported - queued)
            return {
                "spans_ended": self.ended,
                "spans_exported": self.exported,
                "spans_export_failed": self.failed,
                "spans_queue_full": self.queue_full,
                "spans_queued": queued,
                "spans_dropped": lost,
            }


class CountingExporter(SpanExporter):
    """Delegates to the real exporter and counts what it acknowledged or lost."""

    def __init__(self, inner: SpanExporter, stats: ExportStats) -> None:
        self._inner = inner
        self._stats = stats

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
        except Exception:
            self._stats.add("failed", len(spans))
            raise
        self._stats.add("exported" if result is SpanExportResult.SUCCESS else "failed", len(spans))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that counts ended spans and queue-overflow drops."""

    def __init__(self, exporter: SpanExporter, stats: ExportStats, **kwargs: Any) -> None:
        super().__init__(CountingExporter(exporter, stats), **kwargs)
        self.stats = stats

    def queue_depth(self) -> int:
        queue = getattr(getattr(self, "_batch_processor", None), "_queue", None)
        return len(queue) if queue is not None else 0

    def queue_capacity(self) -> int | None:
        queue = getattr(getattr(self, "_batch_processor", None), "_queue", None)
        return getattr(queue, "maxlen", None)

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self.stats.add("ended")
            capacity = self.queue_capacity()
            if capacity is not None and self.queue_depth() >= capacity:
                self.stats.add("queue_full")
        super().on_end(span)


@dataclass
class Pipeline:
    """A tracer provider the probe built and owns (shut down by ``uninstrument``/exit)."""

    provider: TracerProvider
    processor: CountingBatchSpanProcessor | None
    settings: ProbeSettings
    stats: ExportStats
    meter_provider: Any = None
    logger_provider: Any = None
    log_handler: logging.Handler | None = None

    def snapshot(self) -> dict[str, int]:
        queued = self.processor.queue_depth() if self.processor is not None else 0
        return self.stats.snapshot(queued)

    def shutdown(self) -> dict[str, int]:
        """Flush within the shutdown timeout, stop exporting, report drops once."""
        timeout = self.settings.shutdown_timeout_ms
        if self.log_handler is not None:
            logging.getLogger().removeHandler(self.log_handler)
        # TracerProvider.shutdown shuts the batch processor down (a final export).
        _bounded(self.provider.shutdown, timeout, self._direct_trace_shutdown)
        meters = self.meter_provider
        if meters is not None:
            _bounded(lambda: meters.shutdown(timeout_millis=timeout), timeout)
        if self.logger_provider is not None:
            _bounded(self.logger_provider.shutdown, timeout)
        # After shutdown whatever is still queued (or was in flight) will never be sent.
        queued = self.processor.queue_depth() if self.processor is not None else 0
        counts = self.stats.snapshot(0)
        counts["spans_queued"] = queued
        if counts["spans_dropped"]:
            logger.warning(
                "flowscope probe: %d of %d spans were not delivered to %s "
                "(%d queue full, %d failed exports, %d still queued at exit, the rest in flight)",
                counts["spans_dropped"],
                counts["spans_ended"],
                self.settings.signal_endpoint("traces"),
                counts["spans_queue_full"],
                counts["spans_export_failed"],
                counts["spans_queued"],
            )
        return counts

    def _direct_trace_shutdown(self) -> None:
        """Bounded shutdown without a helper thread: the SDK batch processor's own timeout."""
        batch = getattr(self.processor, "_batch_processor", None)
        if batch is not None:
            batch.shutdown(timeout_millis=self.settings.shutdown_timeout_ms)
        else:
            self.provider.shutdown()


def _bounded(
    function: Callable[[], Any], timeout_ms: int, fallback: Callable[[], Any] | None = None
) -> None:
    """Run ``function`` on a daemon thread and wait at most ``timeout_ms`` for it.

    At interpreter shutdown Python 3.12+ refuses new threads; ``fallback`` (or ``function``)
    then runs in the calling thread.
    """
    thread = threading.Thread(target=function, name="flowscope-probe-shutdown", daemon=True)
    try:
        thread.start()
    except RuntimeError:
        (fallback or function)()
        return
    thread.join(max(timeout_ms, 0) / 1000)


def build_pipeline(settings: ProbeSettings, redactor: Redactor | None = None) -> Pipeline:
    """The tracer provider (plus optional metrics/log export) described by ``settings``.

    ``redactor`` scrubs exported log records (a fresh one from ``settings`` when None).
    """
    attributes = {"service.name": settings.service_name} if settings.service_name else {}
    resource = Resource.create(attributes)  # also reads OTEL_RESOURCE_ATTRIBUTES
    # shutdown_on_exit=False: the SDK's own atexit hook would wait up to 30 s for a collector
    # that is down; the probe's exit hook bounds the flush instead.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    stats = ExportStats()
    processor: CountingBatchSpanProcessor | None = None
    exporter: SpanExporter | None = None
    if settings.traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(
            endpoint=settings.signal_endpoint("traces"), timeout=settings.export_timeout_s
        )
    elif settings.traces_exporter == "console":
        exporter = ConsoleSpanExporter()
    if exporter is not None:
        processor = CountingBatchSpanProcessor(exporter, stats)
        provider.add_span_processor(processor)
    pipeline = Pipeline(provider, processor, settings, stats)
    if settings.metrics_exporter == "otlp":
        pipeline.meter_provider = _meter_provider(settings, resource, pipeline)
    if settings.logs_exporter == "otlp":
        redactor = redactor or Redactor(settings.redact_patterns, settings.capture_max_bytes)
        _log_export(settings, resource, pipeline, redactor)
    return pipeline


def _meter_provider(settings: ProbeSettings, resource: Resource, pipeline: Pipeline) -> Any:
    """The sampling package's private usage-metrics provider, plus the probe's span counter."""
    from opentelemetry.metrics import CallbackOptions, Observation

    from probe.sampling import usage

    provider = usage.install_meter_provider(settings.endpoint, resource)

    def observe(options: CallbackOptions) -> list[Observation]:
        counts = pipeline.snapshot()
        return [
            Observation(counts["spans_exported"], {"outcome": "exported"}),
            Observation(counts["spans_dropped"], {"outcome": "dropped"}),
        ]

    provider.get_meter("flowscope.probe").create_observable_counter(
        "flowscope.probe.spans",
        callbacks=[observe],
        unit="{span}",
        description="Spans the probe ended, by delivery outcome",
    )
    return _UsageMeters(usage.shutdown)


class _UsageMeters:
    """Shuts the usage meter provider down through its owner module."""

    def __init__(self, shutdown: Callable[[int], None]) -> None:
        self._shutdown = shutdown

    def shutdown(self, timeout_millis: int = 5000) -> None:
        self._shutdown(timeout_millis)


class RedactingLogProcessor:
    """Scrubs a log record before the export processor sees it (added ahead of it).

    Credentials never leave the process in logs either: attributes named like a credential
    (``api_key``, ``Authorization``, ``*_token`` …) become ``[REDACTED]``; the body and every
    other string attribute (messages, exception text and stack traces) are scrubbed of credential
    patterns, ``FLOWSCOPE_REDACT_PATTERNS`` and the secrets the probe has seen in payloads.
    A failure is the probe's own: counted, and the record is dropped rather than sent unscrubbed.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def on_emit(self, log_data: Any) -> None:
        record = log_data.log_record  # ReadWriteLogRecord (SDK >= 1.39) and LogData alike
        try:
            body = record.body
            if isinstance(body, str):
                record.body = self._redactor.scrub(body, whole=True)
            elif body is not None:
                record.body = self._redactor.redact(body)
            attributes = record.attributes
            if attributes:
                for key, value in list(attributes.items()):
                    clean = self._clean(key, value)
                    if clean is not value:
                        attributes[key] = clean
        except Exception as exc:
            guard.report("log export (redaction)", exc)
            record.body = REDACTED
            if record.attributes:
                for key in list(record.attributes):
                    record.attributes[key] = REDACTED

    def _clean(self, key: str, value: Any) -> Any:
        if is_sensitive_key(key):
            self._redactor.remember(value)
            return REDACTED
        if isinstance(value, str):
            clean = self._redactor.scrub(value, whole=True)
            return value if clean == value else clean
        if isinstance(value, list | tuple) and any(isinstance(v, str) for v in value):
            return [self._redactor.scrub(v, whole=True) if isinstance(v, str) else v for v in value]
        return value

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _log_export(
    settings: ProbeSettings, resource: Resource, pipeline: Pipeline, redactor: Redactor
) -> None:
    """OTLP log export (opt-in with OTEL_LOGS_EXPORTER=otlp): a handler on the root logger,
    each record scrubbed (:class:`RedactingLogProcessor`) before the batch exporter takes it."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    try:  # where OpenTelemetry keeps the handler now
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:  # pragma: no cover - older releases: the SDK's own (deprecated since)
        from opentelemetry.sdk._logs import LoggingHandler  # type: ignore[assignment]

    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_log_record_processor(RedactingLogProcessor(redactor))  # type: ignore[arg-type]
    provider.add_log_record_processor(
        BatchLogRecordProcessor(
            OTLPLogExporter(
                endpoint=settings.signal_endpoint("logs"), timeout=settings.export_timeout_s
            )
        )
    )
    handler = LoggingHandler(logger_provider=provider)
    logging.getLogger().addHandler(handler)
    pipeline.logger_provider = provider
    pipeline.log_handler = handler
