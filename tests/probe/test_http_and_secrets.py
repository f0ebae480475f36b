"""Outgoing HTTP: W3C traceparent injected; the Text_to_Card API key never reaches a span."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from probe_support import Traced

from workflow_core.context import Services
from workflow_core.dsl import load_app
from workflow_core.http_client import HttpClient
from workflow_core.providers.simulated import SimulatedLLM
from workflow_core.runner import WorkflowRunner
from workflow_core.sandbox import CodeSandbox
from workflow_core.settings import RunSettings

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "dify-dsl"  # ../shared
API_KEY = "282856915996906898.lqe1hPL1OpFHfNAoMc1PdOToeximcTrw"


class EchoServer:
    """Answers every POST with a JSON body that echoes the request headers (a careless API)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                owner.requests.append(headers)
                body = json.dumps({"url": "https://img.example/card.png", "echo": headers}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def _run_text_to_card(echo: EchoServer) -> Any:
    app = load_app(CORPUS / "Text_to_Card_Iteration.yml")
    services = Services(
        llm=SimulatedLLM(),
        sandbox=CodeSandbox(timeout_seconds=30),
        http=HttpClient(routes={"https://api.imgrender.cn": echo.url}),
    )
    runner = WorkflowRunner(app, services=services, settings=RunSettings(max_workers=2))
    return runner.run({"author": "Ann", "body_text": "Cats are calm. Dogs are loyal."})


def test_text_to_card_api_key_is_sent_but_never_in_a_span(traced: Traced, echo: EchoServer) -> None:
    result = _run_text_to_card(echo)
    assert result.status == "succeeded", result.error
    # The key really was in play: the request carried it, the echo put it in the node output.
    assert echo.requests
    assert all(r.get("X-API-Key") == API_KEY for r in echo.requests)
    spans = traced.spans()
    assert any(s.name == "HTTP POST" for s in spans)
    for span in spans:
        dumped = json.dumps(
            [
                span.name,
                dict(span.attributes or {}),
                [dict(e.attributes or {}) for e in span.events],
            ],
            default=str,
        )
        assert API_KEY not in dumped, span.name
        assert "lqe1hPL1OpFHfNAoMc1PdOToeximcTrw" not in dumped, span.name


def test_traceparent_of_the_http_span_is_injected_into_the_request(
    traced: Traced, echo: EchoServer
) -> None:
    result = _run_text_to_card(echo)
    assert result.status == "succeeded", result.error
    http_spans = {s.context.span_id: s for s in traced.spans() if s.name == "HTTP POST"}
    assert len(echo.requests) == len(http_spans) >= 1
    for request in echo.requests:
        version, trace_id, span_id, flags = request["traceparent"].split("-")
        assert version == "00" and flags == "01"
        span = http_spans[int(span_id, 16)]
        assert span.context.trace_id == int(trace_id, 16)
        attrs = span.attributes or {}
        assert attrs["url.full"] == "https://api.imgrender.cn/open/v1/pics"  # as the DSL says
        assert attrs["http.response.status_code"] == 200
        assert attrs["flowscope.node.type"] == "http-request"
