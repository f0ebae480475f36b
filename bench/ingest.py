"""Ingest benchmark: raw chDB insert rate vs end-to-end OTLP/HTTP rate through the collector.

``python -m bench.ingest [--spans 100000]`` measures in one run:

- ``raw_insert_rows_per_s``: the same span rows (flowscope workflow traces, built once from the
  same OTLP requests) inserted straight into chDB through clickhouse-connect in 20k-row batches,
  in this process, into the collector's schema (materialized views included) — the baseline;
- ``e2e_spans_per_s``: a load generator (8 client threads) posting OTLP/HTTP protobuf batches of
  500 spans to a real ``flowscope collector`` process (spool on, fsync on) until every span is
  stored and queryable through the read API;
- ``ratio`` = e2e / raw (target >= 0.5) and ``collector_peak_rss_mb`` (VmHWM).

``--overload`` instead drives the collector at the measured sustainable rate for ``--phase-s``
seconds, then at twice that rate for 60 s, sampling its RSS, and reports ``rss_mb_peak``,
``rss_growth`` (peak under overload / peak at the sustainable rate; target <= 1.2) and
``acked_lost`` (spans that got a 200 but are not stored; target 0).

The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from bench.readiness import wait_until_store_ready

WORKFLOWS = ("SEO Slug Generator", "translation_workflow", "Document chat", "Deep research")
NODE_TYPES = ("start", "llm", "code", "template-transform", "if-else", "llm", "end")
MODELS = (("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-3-5-haiku"))
PROTO = {"Content-Type": "application/x-protobuf"}


def _kv(key: str, value: str | int | float) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, str):
        kv.value.string_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.double_value = value
    return kv


def _trace(rng: random.Random, now_ns: int, spans: list[Span]) -> None:
    """One workflow run: a root, ~7 node spans and an llm span inside each llm node."""
    trace_id = rng.randbytes(16)
    workflow = rng.choice(WORKFLOWS)
    common = [
        _kv("flowscope.workflow.name", workflow),
        _kv("flowscope.workflow.id", f"wf-{WORKFLOWS.index(workflow)}"),
        _kv("flowscope.workflow.run_id", rng.randbytes(8).hex()),
        _kv("sampling.rate", 1.0),
        _kv("sampling.reason", "always_on"),
    ]
    start = now_ns - rng.randrange(3_600_000_000_000)
    root = Span(
        trace_id=trace_id,
        span_id=rng.randbytes(8),
        name=f"invoke_workflow {workflow}",
        start_time_unix_nano=start,
        end_time_unix_nano=start + 2_000_000_000,
        kind=Span.SPAN_KIND_INTERNAL,
    )
    root.attributes.extend([_kv("flowscope.span.kind", "workflow"), *common])
    spans.append(root)
    t = start
    for i, node_type in enumerate(NODE_TYPES):
        duration = rng.randrange(1_000_000, 400_000_000)
        node = Span(
            trace_id=trace_id,
            span_id=rng.randbytes(8),
            parent_span_id=root.span_id,
            name=f"{node_type} Node {i}",
            start_time_unix_nano=t,
            end_time_unix_nano=t + duration,
        )
        node_attrs = [
            _kv("flowscope.node.id", f"{1700000000000 + i}"),
            _kv("flowscope.node.type", node_type),
            _kv("flowscope.node.title", f"Node {i}"),
        ]
        node.attributes.extend([_kv("flowscope.span.kind", "node"), *common, *node_attrs])
        if rng.random() < 0.02:
            node.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
        spans.append(node)
        if node_type == "llm":
            provider, model = rng.choice(MODELS)
            llm = Span(
                trace_id=trace_id,
                span_id=rng.randbytes(8),
                parent_span_id=node.span_id,
                name=f"chat {model}",
                start_time_unix_nano=t + 1000,
                end_time_unix_nano=t + duration - 1000,
                kind=Span.SPAN_KIND_CLIENT,
            )
            llm.attributes.extend(
                [
                    _kv("flowscope.span.kind", "llm"),
                    *common,
                    *node_attrs,
                    _kv("gen_ai.operation.name", "chat"),
                    _kv("gen_ai.provider.name", provider),
                    _kv("gen_ai.request.model", model),
                    _kv("gen_ai.usage.input_tokens", rng.randrange(50, 4000)),
                    _kv("gen_ai.usage.output_tokens", rng.randrange(10, 800)),
                ]
            )
            spans.append(llm)
        t += duration


def make_requests(
    n_spans: int, per_request: int = 500, seed: int = 7, now_ns: int | None = None
) -> list[bytes]:
    """Serialized ExportTraceServiceRequests holding about ``n_spans`` spans in total."""
    rng = random.Random(seed)
    now = now_ns or time.time_ns()
    out: list[bytes] = []
    total = 0
    while total < n_spans:
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.attributes.extend(
            [
                _kv("service.name", "bench-ingest"),
                _kv("service.instance.id", rng.randbytes(8).hex()),
            ]
        )
        scope = rs.scope_spans.add()
        scope.scope.name = "flowscope.probe"
        spans: list[Span] = []
        while len(spans) < per_request:
            _trace(rng, now, spans)
        scope.spans.extend(spans)
        total += len(spans)
        out.append(request.SerializeToString())
    return out


def count_spans(requests: list[bytes]) -> int:
    return sum(
        len(ss.spans)
        for body in requests
        for rs in ExportTraceServiceRequest.FromString(body).resource_spans
        for ss in rs.scope_spans
    )


def raw_insert_rate(requests: list[bytes], workdir: Path) -> float:
    """Rows/s of inserting the prepared rows straight into chDB (schema incl. views)."""
    from collector.otlp.rows import SPAN_COLUMNS, traces_to_columns
    from collector.pricing import Pricer
    from collector.storage import schema

    pricer = Pricer()
    per_batch = 40  # requests of 500 spans → 20k rows per insert
    batches = [
        traces_to_columns(
            [ExportTraceServiceRequest.FromString(b) for b in requests[i : i + per_batch]], pricer
        )
        for i in range(0, len(requests), per_batch)
    ]
    return timed_inserts(workdir, schema.TRACES, SPAN_COLUMNS, batches)


def timed_inserts(
    workdir: Path,
    table: str,
    column_names: tuple[str, ...],
    batches: list[tuple[list[list[Any]], int]],
) -> float:
    """Rows/s of inserting column batches into ``table`` of a fresh chDB store (the collector's
    schema, views included), checked by counting what was stored."""
    from collector.storage.store import ClickHouseStore

    store = ClickHouseStore(f"chdb://{workdir / 'raw-chdb'}")
    store.migrate()
    rows = sum(count for _, count in batches)
    started = time.perf_counter()
    for n, (columns, _) in enumerate(batches):
        store.insert(table, column_names, columns, f"raw:{n}")
    elapsed = time.perf_counter() - started
    stored = store.query(f"SELECT count() AS n FROM {table}")[0]["n"]
    store.close()
    assert stored == rows, f"raw insert stored {stored} of {rows} rows"
    return rows / elapsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class Collector:
    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        flowscope = str(Path(sys.executable).parent / "flowscope")
        log = (workdir / "collector.log").open("ab")
        self.proc = subprocess.Popen(
            [
                flowscope,
                "collector",
                "--port",
                str(self.port),
                "--store",
                f"chdb://{workdir / 'chdb'}",
                "--spool-dir",
                str(workdir / "spool"),
                "--log-level",
                "WARNING",
            ],
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        log.close()
        wait_until_store_ready(self.url, 120, process=self.proc, log=workdir / "collector.log")

    def health(self, client: httpx.Client | None = None) -> dict[str, Any]:
        get = client.get if client is not None else httpx.get
        result: dict[str, Any] = get(f"{self.url}/healthz", timeout=30).json()
        return result

    def stored_spans(self) -> int:
        overview = httpx.get(f"{self.url}/api/stats/overview", timeout=60).json()
        return int(overview["spans"])

    def wait_stored(self, expected: int, timeout: float = 600, key: str = "spans_stored") -> None:
        """Until the spool is drained and ``/healthz[key]`` reached ``expected``."""
        deadline = time.monotonic() + timeout
        # one keep-alive connection: a new client per poll cost the 2-core machine ~13 ms of
        # CPU every 50 ms, taken from the collector being measured
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                health = self.health(client)
                if health["spool_backlog_bytes"] == 0 and health[key] >= expected:
                    return
                time.sleep(0.05)
        raise TimeoutError(f"collector stored {self.health()} of {expected}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Load:
    """Client threads posting request bodies (to ``path``), optionally paced to a target spans/s
    (or log records/s)."""

    def __init__(
        self,
        url: str,
        bodies: list[bytes],
        spans_per_body: int,
        threads: int = 8,
        rate: float | None = None,
        loop: bool = False,
        path: str = "/v1/traces",
    ) -> None:
        self.url = url
        self.path = path
        self.bodies = bodies
        self.spans_per_body = spans_per_body
        self.rate = rate
        self.loop = loop
        self.acked_spans = 0
        self.refused = 0
        self.errors = 0
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _take(self) -> bytes | None:
        with self._lock:
            if self._next >= len(self.bodies) and not self.loop:
                return None
            body = self.bodies[self._next % len(self.bodies)]
            self._next += 1
            due = self._started + self._next * self.spans_per_body / self.rate if self.rate else 0.0
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return body

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                body = self._take()
                if body is None:
                    return
                try:
                    response = client.post(f"{self.url}{self.path}", content=body, headers=PROTO)
                except httpx.HTTPError:
                    with self._lock:
                        self.errors += 1
                    continue
                with self._lock:
                    if response.status_code == 200:
                        self.acked_spans += self.spans_per_body
                    else:
                        self.refused += 1
                if response.status_code != 200:
                    time.sleep(float(response.headers.get("retry-after", "1")) / 10)

    def start(self) -> Load:
        self._started = time.monotonic()
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.join()

    def join(self) -> None:
        for t in self._threads:
            t.join()


@contextmanager
def workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flowscope-bench-ingest-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def e2e_rate(requests: list[bytes], n_spans: int, workdir: Path) -> tuple[float, float]:
    collector = Collector(workdir)
    try:
        started = time.perf_counter()
        Load(collector.url, requests, n_spans // len(requests)).start().join()
        collector.wait_stored(n_spans)
        elapsed = time.perf_counter() - started
        stored = collector.stored_spans()
        assert stored == n_spans, f"collector stored {stored} of {n_spans}"
        return n_spans / elapsed, _rss_mb(collector.proc.pid, "VmHWM")
    finally:
        collector.stop()


def overload(
    requests: list[bytes], per_request: int, sustainable: float, phase_s: float, workdir: Path
) -> dict[str, Any]:
    collector = Collector(workdir, {"FLOWSCOPE_SPOOL_MAX_BYTES": str(256 << 20)})
    samples: dict[str, float] = {"sustainable": 0.0, "overload": 0.0}
    phase = ["sustainable"]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples[phase[0]] = max(samples[phase[0]], _rss_mb(collector.proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        steady = Load(collector.url, requests, per_request, rate=sustainable, loop=True).start()
        time.sleep(phase_s)
        steady.stop()
        collector.wait_stored(steady.acked_spans)
        phase[0] = "overload"
        heavy = Load(
            collector.url, requests, per_request, threads=16, rate=2 * sustainable, loop=True
        ).start()
        time.sleep(60)
        heavy.stop()
        acked = steady.acked_spans + heavy.acked_spans
        collector.wait_stored(acked, timeout=1200)
        done.set()
        stored = collector.stored_spans()
        # re-posted bodies repeat span ids; the store keeps each post, so stored counts posts
        return {
            "sustainable_spans_per_s": round(sustainable),
            "overload_target_spans_per_s": round(2 * sustainable),
            "overload_acked_spans_per_s": round(heavy.acked_spans / 60),
            "overload_refused_requests": heavy.refused,
            "rss_mb_sustainable_peak": round(samples["sustainable"], 1),
            "rss_mb_peak": round(samples["overload"], 1),
            "rss_growth": round(samples["overload"] / samples["sustainable"], 3),
            "acked_spans": acked,
            "stored_spans": stored,
            "acked_lost": max(0, acked - stored),
        }
    finally:
        done.set()
        collector.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--per-request", type=int, default=500)
    parser.add_argument("--overload", action="store_true")
    parser.add_argument(
        "--phase-s",
        type=float,
        default=30.0,
        help="seconds at the sustainable rate before overloading",
    )
    args = parser.parse_args(argv)
    requests = make_requests(args.spans, args.per_request)
    n_spans = count_spans(requests)
    with workspace() as work:
        (work / "raw").mkdir()
        (work / "e2e").mkdir()
        raw = raw_insert_rate(requests, work / "raw")
        e2e, peak = e2e_rate(requests, n_spans, work / "e2e")
        result: dict[str, Any] = {
            "spans": n_spans,
            "spans_per_request": n_spans // len(requests),
            "raw_insert_rows_per_s": round(raw),
            "e2e_spans_per_s": round(e2e),
            "ratio": round(e2e / raw, 3),
            "ratio_target": 0.5,
            "collector_peak_rss_mb": round(peak, 1),
            "fsync": True,
        }
        if args.overload:
            (work / "overload").mkdir()
            result.update(
                overload(requests, n_spans // len(requests), e2e, args.phase_s, work / "overload")
            )
            result["rss_growth_target"] = 1.2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
