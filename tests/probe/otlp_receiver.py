"""A tiny OTLP/HTTP receiver for tests: decodes ExportTraceServiceRequest with opentelemetry-proto.

Binds 127.0.0.1 on a free port; ``/v1/traces`` spans are kept in memory, ``/v1/metrics`` and
``/v1/logs`` are acknowledged and counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


def _attrs(key_values: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in key_values}


@dataclass
class Receiver:
    url: str
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    metric_names: set[str] = field(default_factory=set)
    log_bodies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.spans) >= count:
                    return list(self.spans)
            time.sleep(0.05)
        with self.lock:
            return list(self.spans)


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    receiver_ref: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver = receiver_ref[0]
            with receiver.lock:
                receiver.requests[self.path] = receiver.requests.get(self.path, 0) + 1
            if self.path == "/v1/traces":
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                decoded = []
                for resource_spans in request.resource_spans:
                    resource = _attrs(resource_spans.resource.attributes)
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            decoded.append(
                                ReceivedSpan(
                                    name=span.name,
                                    trace_id=span.trace_id.hex(),
                                    span_id=span.span_id.hex(),
                                    parent_span_id=span.parent_span_id.hex(),
                                    attributes=_attrs(span.attributes),
                                    resource=resource,
                                    status_code=span.status.code,
                                )
                            )
                with receiver.lock:
                    receiver.spans.extend(decoded)
                payload = ExportTraceServiceResponse().SerializeToString()
            elif self.path == "/v1/metrics":
                metrics = ExportMetricsServiceRequest()
                metrics.ParseFromString(body)
                names = {
                    m.name
                    for rm in metrics.resource_metrics
                    for sm in rm.scope_metrics
                    for m in sm.metrics
                }
                with receiver.lock:
                    receiver.metric_names |= names
                payload = b""
            elif self.path == "/v1/logs":
                logs = ExportLogsServiceRequest()
                logs.ParseFromString(body)
                bodies = [
                    (_value(r.body), _attrs(r.attributes))
                    for rl in logs.resource_logs
                    for sl in rl.scope_logs
                    for r in sl.log_records
                ]
                with receiver.lock:
                    receiver.log_bodies.extend(bodies)
                payload = b""
            else:
                payload = b""
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver_ref.append(Receiver(url=f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver_ref[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
