"""The OTLP/HTTP receiver: ``POST /v1/traces`` and ``POST /v1/metrics``.

Per the OTLP specification: protobuf or JSON bodies, optional gzip, the response in the request's
encoding, partial success for rejected spans, 400 with a ``google.rpc.Status`` saying what was
wrong, 413 over the size limit (checked while the body streams in), 503 + ``Retry-After`` when
the spool is full, 401 without the ingest token when one is configured.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.api.auth import require_bearer
from collector.errors import DecodeError, PayloadTooLarge, SpoolFull, UnsupportedMediaType
from collector.otlp.body import JSON, PROTOBUF, inflate, media_type, parse_metrics, parse_traces
from collector.runtime import Runtime
from collector.spool.wal import KIND_METRICS, KIND_TRACES

logger = logging.getLogger(__name__)

router = APIRouter(tags=["otlp"])

_OTLP_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            JSON: {"schema": {"type": "object"}},
        },
    },
    "responses": {
        "400": {"description": "undecodable body"},
        "401": {"description": "missing or wrong ingest token"},
        "413": {"description": "body over FLOWSCOPE_MAX_REQUEST_BYTES"},
        "415": {"description": "unsupported Content-Type"},
        "503": {"description": "spool full; retry after Retry-After seconds"},
    },
}


def encode(message: Message, content_type: str) -> Response:
    if media_type(content_type) == JSON:
        body = json_format.MessageToJson(message, indent=None).encode()
        return Response(body, media_type=JSON)
    return Response(message.SerializeToString(), media_type=PROTOBUF)


def status_response(
    code: int, message: str, content_type: str, headers: dict[str, str] | None = None
) -> Response:
    response = encode(status_pb2.Status(code=code, message=message), content_type)
    response.status_code = code
    if headers:
        response.headers.update(headers)
    return response


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing (413) as soon as more than ``max_bytes`` arrived."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"Content-Length {declared} exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise PayloadTooLarge(f"body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)


# The store's DateTime64(9) ends at 2**63 - 1 ns after the epoch (2262-04-11T23:47:16Z); a later
# time (OTLP allows up to 2**64 - 1) would make the insert of its whole batch fail.
_LAST_STORABLE_NANO = 2**63 - 1


def _id_problem(span: Span) -> str:
    """Why a span cannot be stored (bad ids, a time past 2262), or "" when it can."""
    trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
        return f"span {span.name!r}: trace_id must be 16 non-zero bytes"
    if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
        return f"span {span.name!r}: span_id must be 8 non-zero bytes"
    if parent and len(parent) != 8:
        return f"span {span.name!r}: parent_span_id must be empty or 8 bytes"
    if (
        span.start_time_unix_nano > _LAST_STORABLE_NANO
        or span.end_time_unix_nano > _LAST_STORABLE_NANO
        or (span.events and max(e.time_unix_nano for e in span.events) > _LAST_STORABLE_NANO)
    ):
        return (
            f"span {span.name!r}: a start, end or event time is past 2262-04-11T23:47:16Z "
            f"(time_unix_nano above {_LAST_STORABLE_NANO}), beyond what the store can hold"
        )
    return ""


def reject_invalid_spans(request: ExportTraceServiceRequest) -> tuple[int, str]:
    """Drop spans the store cannot hold (ids not 16/8 bytes, times past 2262); returns
    (rejected count, first reason)."""
    rejected = 0
    reason = ""
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            problems = [_id_problem(span) for span in scope_spans.spans]
            if not any(problems):  # the common case: nothing to rebuild
                continue
            keep = [
                span
                for span, problem in zip(scope_spans.spans, problems, strict=True)
                if not problem
            ]
            found = [problem for problem in problems if problem]
            rejected += len(found)
            reason = reason or found[0]
            del scope_spans.spans[:]
            scope_spans.spans.extend(keep)
    return rejected, reason


async def _receive(request: Request, runtime: Runtime) -> tuple[bytes, str]:
    require_bearer(request, runtime.settings.ingest_token, "FLOWSCOPE_INGEST")
    content_type = request.headers.get("content-type", "")
    if media_type(content_type) not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(
            f"unsupported Content-Type {content_type!r}; use {PROTOBUF} or {JSON}"
        )
    limit = runtime.settings.max_request_bytes
    body = await read_body(request, limit)
    return inflate(body, request.headers.get("content-encoding", ""), limit), content_type


@router.post("/v1/traces", openapi_extra=_OTLP_BODY, response_class=Response)
async def export_traces(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    body, content_type = await _receive(request, runtime)
    message = parse_traces(body, content_type)
    rejected, reason = reject_invalid_spans(message)
    if rejected or media_type(content_type) != PROTOBUF:
        body = message.SerializeToString()
    await runtime.spool.append(KIND_TRACES, body)
    runtime.forward(body)
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = reason
    return encode(response, content_type)


@router.post("/v1/metrics", openapi_extra=_OTLP_BODY, response_class=Response)
async def export_metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    body, content_type = await _receive(request, runtime)
    message = parse_metrics(body, content_type)
    if media_type(content_type) != PROTOBUF:
        body = message.SerializeToString()
    await runtime.spool.append(KIND_METRICS, body)
    return encode(ExportMetricsServiceResponse(), content_type)


def install_error_handlers(app: object) -> None:
    """Map domain errors to OTLP status responses (only the API layer knows HTTP)."""
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)

    @app.exception_handler(DecodeError)
    async def _decode(request: Request, exc: DecodeError) -> Response:
        code = 415 if isinstance(exc, UnsupportedMediaType) else 400
        return status_response(code, str(exc), request.headers.get("content-type", ""))

    @app.exception_handler(PayloadTooLarge)
    async def _too_large(request: Request, exc: PayloadTooLarge) -> Response:
        return status_response(413, str(exc), request.headers.get("content-type", ""))

    @app.exception_handler(SpoolFull)
    async def _full(request: Request, exc: SpoolFull) -> Response:
        runtime: Runtime = request.app.state.runtime
        retry = str(runtime.settings.retry_after_s)
        return status_response(
            503,
            f"{exc}; retry later",
            request.headers.get("content-type", ""),
            {"Retry-After": retry},
        )
