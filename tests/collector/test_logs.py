"""OTLP log records: received on ``/v1/logs``, stored in ``otel_logs``, read back per trace.

A real collector process (chDB in a temp dir); the records come from the stock OpenTelemetry
SDK (its ``LoggingHandler`` and OTLP/HTTP log exporter) or hand-built protobuf/JSON bodies.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from collector_harness import PROTO, CollectorProcess, trace_request
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from collector.storage import schema


def wait_for_logs(collector: CollectorProcess, trace_id: str, count: int) -> dict[str, Any]:
    """The trace's logs page once it holds ``count`` records (the writer stores asynchronously)."""
    collector.wait_drained()
    deadline = time.monotonic() + 30
    while True:
        response = collector.get(f"/api/traces/{trace_id}/logs")
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        if len(page["logs"]) >= count or time.monotonic() > deadline:
            return page
        time.sleep(0.2)


@pytest.fixture
def sdk_logger(collector: CollectorProcess) -> Iterator[tuple[logging.Logger, LoggerProvider]]:
    """A stdlib logger whose records the stock SDK exports to the collector, one by one."""
    provider = LoggerProvider(
        resource=Resource.create({"service.name": "logs-sdk", "deployment.environment": "test"})
    )
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{collector.url}/v1/logs"))
    )
    logger = logging.getLogger("tests.collector.logs")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    try:
        yield logger, provider
    finally:
        logger.removeHandler(handler)
        provider.shutdown()


def test_sdk_log_records_come_back_with_their_trace_span_severity_and_attributes(
    collector: CollectorProcess, sdk_logger: tuple[logging.Logger, LoggerProvider]
) -> None:
    logger, _ = sdk_logger
    tracer = TracerProvider().get_tracer("tests")
    with tracer.start_as_current_span("outer") as outer:
        logger.info("starting %s", "work", extra={"order.id": 42})
        with tracer.start_as_current_span("inner") as inner:
            logger.error("upstream said %d", 503)
    logger.warning("outside any span")
    trace_id = format(outer.get_span_context().trace_id, "032x")
    page = wait_for_logs(collector, trace_id, 2)
    assert page["trace_id"] == trace_id and page["truncated"] is False
    logs = page["logs"]
    assert [r["body"] for r in logs] == ["starting work", "upstream said 503"]
    first, second = logs
    assert first["span_id"] == format(outer.get_span_context().span_id, "016x")
    assert second["span_id"] == format(inner.get_span_context().span_id, "016x")
    assert (first["severity_text"], first["severity_number"]) == ("INFO", 9)
    assert (second["severity_text"], second["severity_number"]) == ("ERROR", 17)
    assert first["attributes"]["order.id"] == "42"
    assert first["trace_flags"] & 1 == 1  # sampled (the SDK may set the W3C random bit too)
    assert first["service_name"] == "logs-sdk"
    assert first["resource"]["deployment.environment"] == "test"
    assert first["scope"]["name"] == "tests.collector.logs"
    assert 0 < first["time_unix_nano"] <= second["time_unix_nano"]
    assert first["observed_time_unix_nano"] >= first["time_unix_nano"]
    assert collector.health()["log_records_stored"] >= 3  # the one outside the trace too


def _record(trace_id: bytes, span_id: bytes, body: str, **fields: Any) -> LogRecord:
    now = time.time_ns()
    record = LogRecord(
        time_unix_nano=fields.pop("time_unix_nano", now),
        observed_time_unix_nano=fields.pop("observed_time_unix_nano", now),
        trace_id=trace_id,
        span_id=span_id,
        severity_number=fields.pop("severity_number", 9),
        severity_text=fields.pop("severity_text", "INFO"),
        **fields,
    )
    record.body.string_value = body
    return record


def _request(*records: LogRecord, service: str = "logs-proto") -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value=service))
    )
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "hand.built"
    scope_logs.log_records.extend(records)
    return request


def _post(collector: CollectorProcess, request: ExportLogsServiceRequest) -> httpx.Response:
    return httpx.post(
        f"{collector.url}/v1/logs", content=request.SerializeToString(), headers=PROTO
    )


def test_records_the_store_cannot_hold_are_rejected_alone_as_partial_success(
    collector: CollectorProcess,
) -> None:
    trace_id, span_id = os.urandom(16), os.urandom(8)
    response = _post(
        collector,
        _request(
            _record(trace_id, span_id, "kept"),
            _record(b"\x01\x02\x03", span_id, "short trace id"),
            _record(trace_id, bytes(8), "zero span id"),
            _record(trace_id, span_id, "from the far future", time_unix_nano=2**63),
            _record(b"", span_id, "span without trace"),
        ),
    )
    assert response.status_code == 200, response.text
    reply = ExportLogsServiceResponse.FromString(response.content)
    assert reply.partial_success.rejected_log_records == 4
    assert "trace_id must be empty or 16 non-zero bytes" in reply.partial_success.error_message
    page = wait_for_logs(collector, trace_id.hex(), 1)
    assert [r["body"] for r in page["logs"]] == ["kept"]


def test_structured_body_is_stored_as_json_and_a_record_without_time_uses_observed_time(
    collector: CollectorProcess,
) -> None:
    trace_id, span_id = os.urandom(16), os.urandom(8)
    record = _record(trace_id, span_id, "", time_unix_nano=0, severity_number=99)
    record.body.kvlist_value.CopyFrom(
        KeyValueList(values=[KeyValue(key="event", value=AnyValue(string_value="retry"))])
    )
    record.attributes.append(KeyValue(key="attempt", value=AnyValue(int_value=2)))
    assert _post(collector, _request(record)).status_code == 200
    (stored,) = wait_for_logs(collector, trace_id.hex(), 1)["logs"]
    assert stored["body"] == '{"event":"retry"}'
    assert stored["attributes"] == {"attempt": "2"}
    assert stored["time_unix_nano"] == record.observed_time_unix_nano
    # outside OTel's 1-24 the number is "unspecified"; the text stays as sent
    assert (stored["severity_number"], stored["severity_text"]) == (0, "INFO")


def test_logs_are_found_with_and_without_the_trace_spans_stored(
    collector: CollectorProcess,
) -> None:
    # a trace whose spans are stored: the lookup table bounds the time range
    trace_hex, body = trace_request("logs-bounded")
    assert httpx.post(f"{collector.url}/v1/traces", content=body, headers=PROTO).is_success
    # a client retry re-sends the same record: it shows once
    record = _record(bytes.fromhex(trace_hex), os.urandom(8), "with spans")
    assert _post(collector, _request(record, record)).status_code == 200
    assert [r["body"] for r in wait_for_logs(collector, trace_hex, 1)["logs"]] == ["with spans"]
    # a trace none of whose spans were kept (sampled out): looked up unbounded
    lonely = os.urandom(16)
    assert _post(collector, _request(_record(lonely, b"", "no spans"))).status_code == 200
    (stored,) = wait_for_logs(collector, lonely.hex(), 1)["logs"]
    assert stored["body"] == "no spans" and stored["span_id"] == ""


def test_limit_truncates_and_says_so(collector: CollectorProcess) -> None:
    trace_id = os.urandom(16)
    base = time.time_ns()
    records = [
        _record(trace_id, os.urandom(8), f"line {i}", time_unix_nano=base + i) for i in range(5)
    ]
    # a client retry re-sent the first record: the duplicate must not take a place on the page
    assert _post(collector, _request(records[0], *records)).status_code == 200
    assert len(wait_for_logs(collector, trace_id.hex(), 5)["logs"]) == 5
    page = collector.get(f"/api/traces/{trace_id.hex()}/logs", limit=3).json()
    assert [r["body"] for r in page["logs"]] == ["line 0", "line 1", "line 2"]
    assert page["truncated"] is True
    assert collector.get(f"/api/traces/{trace_id.hex()}/logs", limit=0).status_code == 422
    assert collector.get("/api/traces/not-hex/logs").status_code == 422


def test_a_trace_without_logs_is_an_empty_page_not_a_404(collector: CollectorProcess) -> None:
    response = collector.get(f"/api/traces/{os.urandom(16).hex()}/logs")
    assert response.status_code == 200
    assert response.json()["logs"] == [] and response.json()["truncated"] is False


def test_otlp_json_log_bodies_are_accepted(collector: CollectorProcess) -> None:
    trace_id = os.urandom(16).hex()
    body = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "logs-json"}}]
                },
                "scopeLogs": [
                    {
                        "scope": {"name": "json"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(time.time_ns()),
                                "severityNumber": "SEVERITY_NUMBER_WARN",
                                "severityText": "WARN",
                                "traceId": trace_id,
                                "spanId": "eee19b7ec3c1b174",
                                "body": {"stringValue": "json record"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    response = collector.post_json("/v1/logs", body)
    assert response.status_code == 200, response.text
    assert response.json() == {}
    (stored,) = wait_for_logs(collector, trace_id, 1)["logs"]
    assert (stored["body"], stored["severity_number"], stored["span_id"]) == (
        "json record",
        13,
        "eee19b7ec3c1b174",
    )


def test_logs_table_follows_the_exporter_schema() -> None:
    ddl = "\n".join(schema.render_ddl(version=5))
    assert "CREATE TABLE IF NOT EXISTS otel_logs" in ddl
    assert "PRIMARY KEY (ServiceName, TimestampTime)" in ddl
    assert "ORDER BY (ServiceName, TimestampTime, Timestamp)" in ddl
    assert "PARTITION BY toDate(TimestampTime)" in ddl


MS10 = 10_000_000  # 10 ms in ns: records far enough apart for a window given in seconds


def test_log_search_filters_by_severity_text_service_trace_and_window_newest_first(
    collector: CollectorProcess,
) -> None:
    service = "logs-search"
    trace_a, trace_b = os.urandom(16), os.urandom(16)
    base = time.time_ns()
    records = [
        _record(trace_a, os.urandom(8), "cache miss for user:7", time_unix_nano=base + 1 * MS10),
        _record(
            trace_a, os.urandom(8), "Upstream returned HTTP 429", time_unix_nano=base + 2 * MS10,
            severity_number=13, severity_text="WARN",
        ),
        _record(
            trace_b, b"", "upstream gave up after 3 retries", time_unix_nano=base + 3 * MS10,
            severity_number=17, severity_text="ERROR",
        ),
        _record(b"", b"", "worker started", time_unix_nano=base + 4 * MS10, severity_number=5),
    ]  # fmt: skip
    assert _post(collector, _request(*records, service=service)).status_code == 200
    other = _record(trace_a, b"", "upstream of another service", time_unix_nano=base + 5 * MS10)
    assert _post(collector, _request(other, service="logs-elsewhere")).status_code == 200
    wait_for_logs(collector, trace_a.hex(), 3)

    def bodies(**params: Any) -> list[str]:
        response = collector.get("/api/logs", service=service, **params)
        assert response.status_code == 200, response.text
        return [r["body"] for r in response.json()["logs"]]

    assert bodies() == [
        "worker started",
        "upstream gave up after 3 retries",
        "Upstream returned HTTP 429",
        "cache miss for user:7",
    ]
    assert bodies(severity="warn") == [
        "upstream gave up after 3 retries",
        "Upstream returned HTTP 429",
    ]
    assert bodies(severity="ERROR") == ["upstream gave up after 3 retries"]
    assert bodies(q="UPSTREAM") == [
        "upstream gave up after 3 retries",
        "Upstream returned HTTP 429",
    ]
    assert bodies(trace_id=trace_a.hex()) == ["Upstream returned HTTP 429", "cache miss for user:7"]
    assert bodies(limit=2, offset=1) == [
        "upstream gave up after 3 retries",
        "Upstream returned HTTP 429",
    ]
    found = collector.get("/api/logs", service=service, q="429").json()["logs"]
    assert [r["trace_id"] for r in found] == [trace_a.hex()]  # the way from a log line to its trace
    since = (base + 25 * MS10 // 10) / 1e9  # Unix seconds: the last two records only
    assert bodies(since=f"{since:.9f}") == ["worker started", "upstream gave up after 3 retries"]
    assert bodies(until="2000-01-01T00:00:00Z", since="1999-12-01T00:00:00Z") == []
    assert collector.get("/api/logs", severity="loud").status_code == 422
    assert collector.get("/api/logs", q="x" * 501).status_code == 422
