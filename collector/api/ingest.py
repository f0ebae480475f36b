"""The OTLP/HTTP receiver: ``POST /v1/traces``, ``POST /v1/metrics`` and ``POST /v1/logs``.

Per the OTLP specification: protobuf or JSON bodies, optional gzip, the response in the request's
encoding, partial success for rejected spans and log records, 400 with a ``google.rpc.Status``
saying what was wrong, 413 over the size limit (checked while the body streams in),
503 + ``Retry-After`` when the spool is full, 401 without the ingest token when one is configured.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from collector.api.auth import require_bearer
from collector.errors import DecodeError, PayloadTooLarge, SpoolFull, UnsupportedMediaType
from collector.otlp.body import (
    JSON,
    PROTOBUF,
    inflate,
    media_type,
    parse_logs,
    parse_metrics,
    parse_traces,
)
from collector.otlp.reject import reject_invalid_records, reject_invalid_spans
from collector.runtime import Runtime
from collector.spool.wal import KIND_LOGS, KIND_METRICS, KIND_TRACES

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


@router.post("/v1/logs", openapi_extra=_OTLP_BODY, response_class=Response)
async def export_logs(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    body, content_type = await _receive(request, runtime)
    message = parse_logs(body, content_type)
    rejected, reason = reject_invalid_records(message)
    if rejected or media_type(content_type) != PROTOBUF:
        body = message.SerializeToString()
    await runtime.spool.append(KIND_LOGS, body)
    response = ExportLogsServiceResponse()
    if rejected:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = reason
    return encode(response, content_type)


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
