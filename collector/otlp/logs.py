"""OTLP log records → rows of ``otel_logs``, written as the OpenTelemetry Collector ClickHouse
exporter writes them.

A record's ``Timestamp`` is its event time, or its observed time when it has none (the
exporter's rule); trace and span ids are lower-case hex ("" when absent); the body and the
attribute values become strings as in ``otel_traces`` (:func:`collector.otlp.rows.value_as_string`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from collector.otlp.rows import attributes, value_as_string

LOG_COLUMNS: tuple[str, ...] = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "TraceFlags",
    "SeverityText",
    "SeverityNumber",
    "ServiceName",
    "Body",
    "ResourceSchemaUrl",
    "ResourceAttributes",
    "ScopeSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "LogAttributes",
    "ObservedTimestamp",
)


def logs_to_columns(requests: Sequence[ExportLogsServiceRequest]) -> tuple[list[list[Any]], int]:
    """Flatten export requests into one list per column of :data:`LOG_COLUMNS`."""
    cols: list[list[Any]] = [[] for _ in LOG_COLUMNS]
    (
        ts,
        trace_id,
        span_id,
        flags,
        severity_text,
        severity_number,
        service,
        body,
        res_schema,
        res_attrs,
        scope_schema,
        scope_name,
        scope_version,
        scope_attrs,
        log_attrs,
        observed,
    ) = cols
    count = 0
    for request in requests:
        for resource_logs in request.resource_logs:
            resource = attributes(resource_logs.resource.attributes)
            service_name = resource.get("service.name", "")
            for scope_logs in resource_logs.scope_logs:
                scope = scope_logs.scope
                records = scope_logs.log_records
                n = len(records)
                # per-scope values: one list extension each, not an append per record
                service.extend([service_name] * n)
                res_schema.extend([resource_logs.schema_url] * n)
                res_attrs.extend([resource] * n)
                scope_schema.extend([scope_logs.schema_url] * n)
                scope_name.extend([scope.name] * n)
                scope_version.extend([scope.version] * n)
                scope_attrs.extend([attributes(scope.attributes)] * n)
                for record in records:
                    seen = record.observed_time_unix_nano
                    ts.append(record.time_unix_nano or seen)
                    trace_id.append(record.trace_id.hex())
                    span_id.append(record.span_id.hex())
                    flags.append(record.flags & 0xFF)  # the low byte: W3C trace flags
                    severity_text.append(record.severity_text)
                    number = record.severity_number
                    # OTel's range is 1-24; anything else is "unspecified" (its text is kept)
                    severity_number.append(number if 0 <= number <= 24 else 0)
                    value = record.body
                    text = value.string_value  # the common case without a WhichOneof call
                    body.append(text if text else value_as_string(value))
                    log_attrs.append(attributes(record.attributes))
                    observed.append(seen)
                count += n
    return cols, count
