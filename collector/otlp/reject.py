"""What the store cannot hold, taken out of a request before it is spooled.

A span or log record with malformed ids or a time past 2262 would make the insert of its whole
batch fail (and that batch be quarantined with other clients' data). The receiver drops just
those items and answers with an OTLP partial success naming the first reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableSequence
from typing import TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.otlp.rows import LAST_STORABLE_NANO

_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)
_PAST_2262 = (
    f"past 2262-04-11T23:47:16Z (time_unix_nano above {LAST_STORABLE_NANO}), "
    "beyond what the store can hold"
)

Item = TypeVar("Item", Span, LogRecord)


def span_problem(span: Span) -> str:
    """Why a span cannot be stored (bad ids, a time past 2262), or "" when it can."""
    trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
        return f"span {span.name!r}: trace_id must be 16 non-zero bytes"
    if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
        return f"span {span.name!r}: span_id must be 8 non-zero bytes"
    if parent and len(parent) != 8:
        return f"span {span.name!r}: parent_span_id must be empty or 8 bytes"
    if (
        span.start_time_unix_nano > LAST_STORABLE_NANO
        or span.end_time_unix_nano > LAST_STORABLE_NANO
        or (span.events and max(e.time_unix_nano for e in span.events) > LAST_STORABLE_NANO)
    ):
        return f"span {span.name!r}: a start, end or event time is {_PAST_2262}"
    return ""


def record_problem(record: LogRecord) -> str:
    """Why a log record cannot be stored (malformed ids, a time past 2262), or "" when it can.

    Ids are optional on a log record (one made outside any span has none), so empty ids are
    fine; present ones must have their OTLP sizes.
    """
    trace_id, span_id = record.trace_id, record.span_id
    if trace_id and (len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID):
        return "log record: trace_id must be empty or 16 non-zero bytes"
    if span_id and (len(span_id) != 8 or span_id == _ZERO_SPAN_ID):
        return "log record: span_id must be empty or 8 non-zero bytes"
    if span_id and not trace_id:
        return "log record: a span_id needs a trace_id"
    if max(record.time_unix_nano, record.observed_time_unix_nano) > LAST_STORABLE_NANO:
        return f"log record: its time or observed time is {_PAST_2262}"
    return ""


def _drop(
    groups: Iterable[MutableSequence[Item]], problem: Callable[[Item], str]
) -> tuple[int, str]:
    """Remove the items ``problem`` finds fault with; (count removed, first reason)."""
    rejected = 0
    reason = ""
    for items in groups:
        problems = [problem(item) for item in items]
        if not any(problems):  # the common case: nothing to rebuild
            continue
        keep = [item for item, found in zip(items, problems, strict=True) if not found]
        found = [text for text in problems if text]
        rejected += len(found)
        reason = reason or found[0]
        del items[:]
        items.extend(keep)
    return rejected, reason


def reject_invalid_spans(request: ExportTraceServiceRequest) -> tuple[int, str]:
    """Drop spans the store cannot hold (ids not 16/8 bytes, times past 2262)."""
    return _drop(
        (scope.spans for resource in request.resource_spans for scope in resource.scope_spans),
        span_problem,
    )


def reject_invalid_records(request: ExportLogsServiceRequest) -> tuple[int, str]:
    """Drop log records the store cannot hold (malformed ids, times past 2262)."""
    return _drop(
        (scope.log_records for resource in request.resource_logs for scope in resource.scope_logs),
        record_problem,
    )
