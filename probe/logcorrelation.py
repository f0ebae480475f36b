"""Trace/span ids on log records: a LogRecord factory installed by ``instrument()``.

Every record created while a span is current carries ``trace_id`` / ``span_id`` (32 / 16 hex
digits, ``"0"`` outside spans) plus OpenTelemetry's ``otelTraceID`` / ``otelSpanID`` names, so
``%(trace_id)s`` works in any handler's format string. No handler is configured (the host owns
its logging); ``uninstrument()`` restores the previous factory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import get_current_span

_previous: Callable[..., logging.LogRecord] | None = None
_installed: Callable[..., logging.LogRecord] | None = None


def install() -> None:
    """Wrap the current LogRecord factory (idempotent)."""
    global _previous, _installed
    if _installed is not None and logging.getLogRecordFactory() is _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        context = get_current_span().get_span_context()
        if context.is_valid:
            trace_id = format(context.trace_id, "032x")
            span_id = format(context.span_id, "016x")
        else:
            trace_id = span_id = "0"
        record.trace_id = record.otelTraceID = trace_id
        record.span_id = record.otelSpanID = span_id
        return record

    _previous, _installed = previous, factory
    logging.setLogRecordFactory(factory)


def uninstall() -> None:
    """Put the previous factory back, if ours is still the one installed."""
    global _previous, _installed
    if _installed is not None and logging.getLogRecordFactory() is _installed:
        assert _previous is not None
        logging.setLogRecordFactory(_previous)
    _previous = _installed = None
