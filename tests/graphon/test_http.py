"""graphon's HTTP request node: an ``HTTP GET`` span under the node, as in the core, and the
request carries the span's W3C ``traceparent`` (a real local HTTP server receives it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from graphon_support.loader import plain, run_file
from graphon_support.trees import from_sdk, span_tree
from workflow_core.dsl import load_app
from workflow_core.runner import WorkflowRunner


@pytest.fixture
def server() -> Iterator[tuple[str, list[str | None]]]:
    received: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append(self.headers.get("traceparent"))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/data?token=secret", received
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_http_node_span_tree_matches_core_and_propagates_traceparent(
    exporter: InMemorySpanExporter, server: tuple[str, list[str | None]], tmp_path: Path
) -> None:
    url, received = server
    template = (Path(__file__).parent / "data" / "http_demo.yml").read_text()
    path = tmp_path / "http_demo.yml"
    path.write_text(template.replace("{url}", url))

    core = WorkflowRunner(load_app(path)).run({})
    core_tree = span_tree(from_sdk(exporter.get_finished_spans()))
    exporter.clear()
    graphon = run_file(path, {})
    spans = list(exporter.get_finished_spans())

    assert core.outputs == plain(graphon.outputs) == {"body": '{"ok": true}', "status": 200}
    assert span_tree(from_sdk(spans)) == core_tree
    (http,) = [s for s in spans if s.name == "HTTP GET"]
    attrs = http.attributes or {}
    assert attrs["http.response.status_code"] == 200
    assert attrs["url.full"].endswith("/data")  # no query string: it may carry secrets
    assert attrs["flowscope.node.id"] == "fetch"
    trace_id, span_id = f"{http.context.trace_id:032x}", f"{http.context.span_id:016x}"
    assert received[-1] == f"00-{trace_id}-{span_id}-01"
