"""Spans from the stock OpenTelemetry SDK, encoded by its own OTLP encoder (protobuf or JSON)."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Sequence
from typing import Any

import httpx
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

_ID_FIELDS = {"traceId", "spanId", "parentSpanId"}


def to_otlp_json(message: Any) -> dict[str, Any]:
    """protobuf JSON mapping → OTLP JSON (hex ids instead of base64)."""

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (base64.b64decode(v).hex() if k in _ID_FIELDS and isinstance(v, str) else fix(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    doc: dict[str, Any] = fix(json_format.MessageToDict(message))
    return doc


def post_spans(
    url: str,
    spans: Sequence[ReadableSpan],
    *,
    encoding: str = "protobuf",
    compress: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    request = encode_spans(spans)
    if encoding == "json":
        import json

        body = json.dumps(to_otlp_json(request)).encode()
        content_type = "application/json"
    else:
        body = request.SerializeToString()
        content_type = "application/x-protobuf"
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if compress:
        body = gzip.compress(body)
        all_headers["Content-Encoding"] = "gzip"
    return httpx.post(f"{url}/v1/traces", content=body, headers=all_headers, timeout=30)
