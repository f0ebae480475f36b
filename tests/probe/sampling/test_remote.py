"""Remote-controlled sampler: the policy served over HTTP, polled like a file."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from probe.sampling import load_sampler
from probe.sampling.errors import PolicyError
from probe.sampling.sampler import PolicySampler
from probe.sampling.sources import FileSource, HttpSource, source_for

LLM_20 = {"rules": [{"id": "llm", "match": {"kind": "llm"}, "rate": 0.2}, {"id": "d"}]}
LLM_OFF = {"rules": [{"id": "llm-off", "match": {"kind": "llm"}, "rate": 0.0}, {"id": "d"}]}


class PolicyServer:
    """Serves ``body`` at /api/sampling/<service> with an ETag, on a free loopback port."""

    def __init__(self) -> None:
        self.body = yaml.safe_dump(LLM_20).encode()
        self.status = 200
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(dict(self.headers))
                etag = '"' + hashlib.sha256(server.body).hexdigest()[:16] + '"'
                if server.status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(server.status)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/sampling/svc"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[PolicyServer]:
    served = PolicyServer()
    yield served
    served.close()


def remote_sampler(url: str) -> PolicySampler:
    sampler = load_sampler(url, watch=False)
    assert isinstance(sampler, PolicySampler) and sampler.watcher is not None
    return sampler


def test_remote_policy_is_loaded_and_a_served_change_applies(server: PolicyServer) -> None:
    sampler = remote_sampler(server.url)
    assert sampler.decide("llm", "wf", "llm", 0, True) == (True, 0.2, "llm")
    assert sampler.watcher is not None
    assert not sampler.watcher.poll()  # unchanged: 304 thanks to the ETag
    assert server.requests[-1]["If-None-Match"].startswith('"')
    server.body = yaml.safe_dump(LLM_OFF).encode()
    assert sampler.watcher.poll()
    assert sampler.decide("llm", "wf", "llm", 0, True).reason == "llm-off"


def test_json_body_is_accepted(server: PolicyServer) -> None:
    import json

    server.body = json.dumps(LLM_OFF).encode()
    assert remote_sampler(server.url).decide("llm", "wf", "llm", 0, True).reason == "llm-off"


def test_invalid_served_policy_logs_once_and_keeps_the_old_one(
    server: PolicyServer, caplog: pytest.LogCaptureFixture
) -> None:
    sampler = remote_sampler(server.url)
    assert sampler.watcher is not None
    server.body = yaml.safe_dump({"rules": [{"id": "d", "rate": -1}]}).encode()
    with caplog.at_level(logging.ERROR, logger="probe.sampling.reload"):
        for _ in range(3):
            assert not sampler.watcher.poll()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"{server.url}: rules[0].rate must be between 0 and 1, got -1; "
        "keeping the previous sampling policy"
    ]
    assert sampler.decide("llm", "wf", "llm", 0, True).reason == "llm"


def test_unreachable_policy_server_keeps_the_old_policy(
    server: PolicyServer, caplog: pytest.LogCaptureFixture
) -> None:
    sampler = remote_sampler(server.url)
    assert sampler.watcher is not None
    server.status = 503
    with caplog.at_level(logging.ERROR, logger="probe.sampling.reload"):
        assert not sampler.watcher.poll()
        assert not sampler.watcher.poll()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "HTTP 503" in errors[0]
    assert sampler.decide("llm", "wf", "llm", 0, True).reason == "llm"
    server.status = 200
    server.body = yaml.safe_dump(LLM_OFF).encode()
    assert sampler.watcher.poll()


def test_first_fetch_failure_is_a_policy_error_naming_the_url(server: PolicyServer) -> None:
    server.status = 404
    with pytest.raises(
        PolicyError, match=r"/api/sampling/svc: cannot fetch sampling policy: HTTP 404"
    ):
        load_sampler(server.url, watch=False)


def test_source_for_tells_urls_from_paths_even_after_pathlib() -> None:
    assert isinstance(source_for("sampling.yaml"), FileSource)
    remote = source_for("http:/127.0.0.1:4318/api/sampling/svc")  # str(Path("http://…"))
    assert isinstance(remote, HttpSource) and remote.url == "http://127.0.0.1:4318/api/sampling/svc"
    assert isinstance(source_for("https://h/p"), HttpSource)
