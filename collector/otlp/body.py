"""Request bodies: bounded gzip inflation and protobuf/JSON parsing of OTLP exports."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.errors import DecodeError, PayloadTooLarge, UnsupportedMediaType

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

M = TypeVar("M", bound=Message)

_ID_KEYS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def inflate(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """Undo ``Content-Encoding`` (identity or gzip), never producing more than ``max_bytes``."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise DecodeError(f"unsupported Content-Encoding {encoding!r}; use gzip or identity")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise DecodeError(f"body is not valid {encoding} data: {exc}") from None
    if len(out) > max_bytes:
        raise PayloadTooLarge(f"decompressed body exceeds {max_bytes} bytes")
    if not inflater.eof:
        raise DecodeError(f"{encoding} body is truncated")
    return out


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _hex_ids_to_base64(node: Any, path: str) -> Any:
    """OTLP JSON carries trace/span ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                out[key] = _hex_id(value, _ID_KEYS[key], f"{path}.{key}")
            else:
                out[key] = _hex_ids_to_base64(value, f"{path}.{key}")
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(v, f"{path}[{i}]") for i, v in enumerate(node)]
    return node


def _hex_id(value: str, size: int, where: str) -> str:
    if value == "":
        return ""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise DecodeError(f"{where}: expected {size * 2} hex digits, got {value[:40]!r}") from None
    if len(raw) != size:
        raise DecodeError(f"{where}: expected {size * 2} hex digits, got {len(value)}")
    return base64.b64encode(raw).decode("ascii")


def parse(body: bytes, content_type: str, message: type[M]) -> M:
    """Parse an OTLP export body as protobuf or OTLP JSON into ``message``."""
    kind = media_type(content_type)
    result: M = message()
    if kind == PROTOBUF:
        try:
            result.ParseFromString(body)
        except (ProtoDecodeError, RuntimeError, ValueError) as exc:
            raise DecodeError(f"body is not a valid protobuf {message.__name__}: {exc}") from None
        return result
    if kind == JSON:
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise DecodeError(f"body is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise DecodeError(f"JSON body must be an object, got {type(doc).__name__}")
        try:
            json_format.ParseDict(_hex_ids_to_base64(doc, "$"), result, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError) as exc:
            raise DecodeError(f"JSON body is not a valid OTLP {message.__name__}: {exc}") from None
        return result
    raise UnsupportedMediaType(
        f"unsupported Content-Type {content_type!r}; use {PROTOBUF} or {JSON}"
    )


def parse_traces(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    return parse(body, content_type, ExportTraceServiceRequest)


def parse_metrics(body: bytes, content_type: str) -> ExportMetricsServiceRequest:
    return parse(body, content_type, ExportMetricsServiceRequest)


def parse_logs(body: bytes, content_type: str) -> ExportLogsServiceRequest:
    return parse(body, content_type, ExportLogsServiceRequest)
