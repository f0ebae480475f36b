"""Spans from the stock OpenTelemetry SDK exporter come back from the read API field by field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from collector_harness import CollectorProcess
from collector_otlp_client import post_spans
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

ATTRIBUTES: dict[str, Any] = {
    "s": "text with ünïcode",
    "b": True,
    "i": -42,
    "big": 2**62,
    "f": 1.5,
    "strs": ["a", "b"],
    "ints": [1, 2, 3],
    "floats": [0.25, 2.5],
    "bools": [True, False],
}
EXPECTED_STRINGS = {
    "s": "text with ünïcode",
    "b": "true",
    "i": "-42",
    "big": str(2**62),
    "f": "1.5",
    "strs": '["a","b"]',
    "ints": "[1,2,3]",
    "floats": "[0.25,2.5]",
    "bools": "[true,false]",
}


def make_spans(service: str) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "deployment.environment": "test"})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("roundtrip.scope", "9.8.7")
    other = trace.SpanContext(
        trace_id=0x1234567890ABCDEF1234567890ABCDEF,
        span_id=0x1122334455667788,
        is_remote=True,
        trace_flags=trace.TraceFlags(1),
        trace_state=trace.TraceState([("vendor", "value")]),
    )
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER, attributes=ATTRIBUTES) as root:
        root.add_event("cache miss", {"key": "k1", "n": 3})
        with tracer.start_as_current_span(
            "child", kind=SpanKind.CLIENT, links=[Link(other, {"link.kind": "follows"})]
        ) as child:
            child.set_status(Status(StatusCode.ERROR, "upstream timed out"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def check_roundtrip(
    collector: CollectorProcess, sent: Sequence[ReadableSpan], service: str
) -> None:
    collector.wait_drained()
    trace_id = format(sent[0].context.trace_id, "032x")
    response = collector.get(f"/api/traces/{trace_id}")
    assert response.status_code == 200, response.text
    got = {s["span_id"]: s for s in response.json()["spans"]}
    assert len(got) == len(sent)
    for span in sent:
        stored = got[format(span.context.span_id, "016x")]
        assert span.end_time is not None and span.start_time is not None
        assert stored["name"] == span.name
        assert stored["start_time_unix_nano"] == span.start_time
        assert stored["duration_ns"] == span.end_time - span.start_time
        parent = format(span.parent.span_id, "016x") if span.parent else ""
        assert stored["parent_span_id"] == parent
        assert stored["service_name"] == service
        assert stored["resource"]["service.name"] == service
        assert stored["resource"]["deployment.environment"] == "test"
        assert stored["scope"] == {"name": "roundtrip.scope", "version": "9.8.7"}
    root = next(s for s in got.values() if s["name"] == "root")
    child = next(s for s in got.values() if s["name"] == "child")
    assert root["attributes"] == EXPECTED_STRINGS
    assert root["kind"] == "Server" and child["kind"] == "Client"
    assert root["status_code"] == "Unset"
    assert child["status_code"] == "Error"
    assert child["status_message"] == "upstream timed out"
    sent_root = next(s for s in sent if s.name == "root")
    assert root["events"] == [
        {
            "time_unix_nano": sent_root.events[0].timestamp,
            "name": "cache miss",
            "attributes": {"key": "k1", "n": "3"},
        }
    ]
    assert child["links"] == [
        {
            "trace_id": "1234567890abcdef1234567890abcdef",
            "span_id": "1122334455667788",
            # the SDK's encoder sends no link trace_state (only the span's own)
            "trace_state": "",
            "attributes": {"link.kind": "follows"},
        }
    ]


def test_stock_sdk_protobuf_exporter_roundtrips_every_field(collector: CollectorProcess) -> None:
    spans = make_spans("roundtrip-proto")
    exporter = OTLPSpanExporter(endpoint=f"{collector.url}/v1/traces")
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    check_roundtrip(collector, spans, "roundtrip-proto")


@pytest.mark.parametrize("compress", [False, True])
def test_otlp_json_body_roundtrips_every_field(collector: CollectorProcess, compress: bool) -> None:
    service = f"roundtrip-json-{compress}"
    spans = make_spans(service)
    response = post_spans(collector.url, spans, encoding="json", compress=compress)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.content) == {}
    check_roundtrip(collector, spans, service)


def test_otlp_json_accepts_enum_ints_and_int64_strings(collector: CollectorProcess) -> None:
    trace_id = "5b8efff798038103d269b633813fc60c"
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-raw"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "raw"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": "eee19b7ec3c1b174",
                                "name": "raw span",
                                "kind": 2,
                                "startTimeUnixNano": "1795549844542526676",
                                "endTimeUnixNano": "1795549844642526676",
                                "attributes": [
                                    {"key": "n", "value": {"intValue": "7"}},
                                    {"key": "d", "value": {"doubleValue": 0.5}},
                                ],
                                "status": {"code": "STATUS_CODE_OK"},
                                "unknownField": 1,
                                "traceState": "a=b",
                                "links": [
                                    {
                                        "traceId": "0af7651916cd43dd8448eb211c80319c",
                                        "spanId": "b7ad6b7169203331",
                                        "traceState": "x=y",
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    response = collector.post_json("/v1/traces", body)
    assert response.status_code == 200, response.text
    collector.wait_drained()
    span = collector.get(f"/api/traces/{trace_id}").json()["spans"][0]
    assert span["kind"] == "Server"
    assert span["status_code"] == "Ok"
    assert span["duration_ns"] == 100_000_000
    assert span["attributes"] == {"n": "7", "d": "0.5"}
    assert span["trace_state"] == "a=b"
    assert span["links"] == [
        {
            "trace_id": "0af7651916cd43dd8448eb211c80319c",
            "span_id": "b7ad6b7169203331",
            "trace_state": "x=y",
            "attributes": {},
        }
    ]
