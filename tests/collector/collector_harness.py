"""Real collector processes for tests: free loopback port, temp chDB + spool, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

FLOWSCOPE = str(Path(sys.executable).parent / "flowscope")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CollectorProcess:
    """``flowscope collector`` as a subprocess; ``start``/``kill``/``stop`` keep the data dir."""

    def __init__(
        self,
        workdir: Path,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        store: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.store_dir = workdir / "chdb"
        self.store = store or f"chdb://{self.store_dir}"
        self.spool_dir = workdir / "spool"
        self.port = port or free_port()
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "collector.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait_store: bool = True, timeout: float = 90.0) -> CollectorProcess:
        env = {**os.environ, **self.extra_env}
        env.pop("FLOWSCOPE_STORE", None)  # --store always names the store explicitly
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                FLOWSCOPE,
                "collector",
                "--port",
                str(self.port),
                "--store",
                self.store,
                "--spool-dir",
                str(self.spool_dir),
            ],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.wait_ready(wait_store=wait_store, timeout=timeout)
        return self

    def wait_ready(self, *, wait_store: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited {self.proc.returncode}: {self.log()}")
            try:
                health = httpx.get(f"{self.url}/healthz", timeout=2).json()
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            if health["store_ready"] or not wait_store:
                return
            time.sleep(0.2)
        raise TimeoutError(f"collector not ready after {timeout}s: {self.log()}")

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=5).json()
        return result

    def wait_drained(self, timeout: float = 60.0) -> None:
        """Wait until everything acknowledged is stored (spool backlog 0)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.health()["spool_backlog_bytes"] == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"spool not drained after {timeout}s: {self.health()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final fsync."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, timeout=30)

    def post_json(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        import json

        return httpx.post(
            f"{self.url}{path}",
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=30,
        )


SPANS_PER_TRACE = 10
PROTO = {"Content-Type": "application/x-protobuf"}


def trace_request(service: str) -> tuple[str, bytes]:
    trace_id = os.urandom(16)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name"))
    rs.resource.attributes[0].value.string_value = service
    now = time.time_ns()
    spans = rs.scope_spans.add().spans
    for i in range(SPANS_PER_TRACE):
        spans.append(
            Span(
                trace_id=trace_id,
                span_id=os.urandom(8),
                name=f"op{i}",
                parent_span_id=b"" if i == 0 else spans[0].span_id,
                start_time_unix_nano=now + i,
                end_time_unix_nano=now + 1000 + i,
            )
        )
    return trace_id.hex(), req.SerializeToString()


def stored_span_counts(collector: CollectorProcess, service: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    offset = 0
    while True:
        page = collector.get("/api/traces", service=service, limit=1000, offset=offset).json()
        for t in page["traces"]:
            counts[t["trace_id"]] = t["span_count"]
        if len(page["traces"]) < 1000:
            return counts
        offset += 1000
