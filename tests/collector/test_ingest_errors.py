"""The receiver's answers to bad or unauthorised requests (a real collector process)."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from collector_harness import CollectorProcess
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

INGEST = "ingest-secret"
READ = "read-secret"
LIMIT = 64 * 1024
PROTO = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {INGEST}"}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(
        Path(tmp_path_factory.mktemp("guarded")),
        env={
            "FLOWSCOPE_INGEST_TOKEN": INGEST,
            "FLOWSCOPE_READ_TOKEN": READ,
            "FLOWSCOPE_MAX_REQUEST_BYTES": str(LIMIT),
        },
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def request_with(*spans: Span) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    req.resource_spans.add().scope_spans.add().spans.extend(spans)
    return req


def good_span(name: str = "ok", trace_byte: int = 1) -> Span:
    return Span(
        trace_id=bytes([trace_byte]) * 16,
        span_id=os.urandom(8),
        name=name,
        start_time_unix_nano=1_795_549_844_000_000_000,
        end_time_unix_nano=1_795_549_845_000_000_000,
    )


def post(c: CollectorProcess, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{c.url}/v1/traces", content=body, headers=headers, timeout=30)


def partial_success(response: httpx.Response) -> tuple[int, str]:
    """(rejected spans, error message) of a 200 answer to a trace export."""
    assert response.status_code == 200
    reply = ExportTraceServiceResponse.FromString(response.content)
    return reply.partial_success.rejected_spans, reply.partial_success.error_message


def stored_names(c: CollectorProcess, trace_byte: int) -> list[str]:
    """Names of the stored spans of trace ``trace_byte * 16``, once the spool is drained."""
    c.wait_drained()
    got = httpx.get(
        f"{c.url}/api/traces/{f'{trace_byte:02x}' * 16}",
        headers={"Authorization": f"Bearer {READ}"},
    ).json()
    return [s["name"] for s in got["spans"]]


def status_message(response: httpx.Response) -> str:
    return str(status_pb2.Status.FromString(response.content).message)


def test_missing_or_wrong_ingest_token_is_401(guarded: CollectorProcess) -> None:
    body = request_with(good_span()).SerializeToString()
    assert post(guarded, body, {"Content-Type": "application/x-protobuf"}).status_code == 401
    wrong = {**PROTO, "Authorization": "Bearer nope"}
    assert post(guarded, body, wrong).status_code == 401
    assert post(guarded, body, PROTO).status_code == 200


def test_read_api_needs_the_read_token_not_the_ingest_token(guarded: CollectorProcess) -> None:
    url = f"{guarded.url}/api/stats/nodes"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {INGEST}"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {READ}"}).status_code == 200


def test_undecodable_protobuf_is_400_with_a_reason(guarded: CollectorProcess) -> None:
    response = post(guarded, b"\xff\xff\xff\xff garbage", PROTO)
    assert response.status_code == 400
    assert "not a valid protobuf ExportTraceServiceRequest" in status_message(response)


def test_bad_json_says_what_was_wrong(guarded: CollectorProcess) -> None:
    headers = {**PROTO, "Content-Type": "application/json"}
    response = post(
        guarded, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', headers
    )
    assert response.status_code == 400
    assert "traceId: expected 32 hex digits" in response.json()["message"]
    response = post(guarded, b"[1, 2", headers)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


def test_unsupported_content_type_is_415(guarded: CollectorProcess) -> None:
    response = post(guarded, b"hello", {**PROTO, "Content-Type": "text/plain"})
    assert response.status_code == 415


def test_body_over_the_limit_is_413_even_without_content_length(guarded: CollectorProcess) -> None:
    big = b"\x00" * (LIMIT + 1)
    assert post(guarded, big, PROTO).status_code == 413

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to trust
        for _ in range(LIMIT // 1024 + 8):
            yield b"\x0a" * 1024

    response = httpx.post(f"{guarded.url}/v1/traces", content=chunks(), headers=PROTO, timeout=30)
    assert response.status_code == 413


def test_gzip_bomb_is_413_not_inflated(guarded: CollectorProcess) -> None:
    bomb = gzip.compress(b"\x00" * (LIMIT * 50))
    assert len(bomb) < LIMIT
    response = post(guarded, bomb, {**PROTO, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed body exceeds" in status_message(response)


def test_corrupt_gzip_is_400(guarded: CollectorProcess) -> None:
    response = post(guarded, b"\x1f\x8b not gzip", {**PROTO, "Content-Encoding": "gzip"})
    assert response.status_code == 400


def test_invalid_span_ids_are_rejected_as_partial_success(guarded: CollectorProcess) -> None:
    bad = Span(trace_id=b"\x01" * 3, span_id=os.urandom(8), name="short trace id")
    body = request_with(good_span("kept", 7), bad).SerializeToString()
    rejected, message = partial_success(post(guarded, body, PROTO))
    assert rejected == 1
    assert "trace_id must be 16 non-zero bytes" in message
    assert stored_names(guarded, 7) == ["kept"]


def test_span_timed_past_2262_is_rejected_alone_and_its_batch_stored(
    guarded: CollectorProcess,
) -> None:
    far = good_span("far future", 8)
    far.start_time_unix_nano, far.end_time_unix_nano = 2**63 + 5, 2**63 + 10
    late_event = good_span("late event", 8)
    late_event.events.add(name="e", time_unix_nano=2**64 - 1)
    body = request_with(good_span("kept now", 8), far, late_event).SerializeToString()
    rejected, message = partial_success(post(guarded, body, PROTO))
    assert rejected == 2
    assert "span 'far future'" in message
    assert "past 2262" in message
    assert stored_names(guarded, 8) == ["kept now"]


def test_read_api_rejects_bad_parameters_with_422(guarded: CollectorProcess) -> None:
    auth = {"Authorization": f"Bearer {READ}"}
    assert httpx.get(f"{guarded.url}/api/traces/not-hex", headers=auth).status_code == 422
    assert (
        httpx.get(f"{guarded.url}/api/traces", params={"limit": 0}, headers=auth).status_code == 422
    )
    assert (
        httpx.get(f"{guarded.url}/api/traces", params={"attr": "novalue"}, headers=auth).status_code
        == 422
    )
    response = httpx.get(
        f"{guarded.url}/api/stats/nodes",
        headers=auth,
        params={"since": "2026-01-02T00:00:00", "until": "2026-01-01T00:00:00"},
    )
    assert response.status_code == 422
    assert httpx.get(f"{guarded.url}/api/traces/{'ab' * 16}", headers=auth).status_code == 404
