"""A real collector process (chDB in a temp dir, free port) and known spans and log records sent
to it over OTLP.

Used by the page tests (Streamlit AppTest) and the browser tests: the pages must show exactly the
numbers the store holds. Spans and log records are built with the stock OpenTelemetry SDK and
exported with its OTLP/HTTP exporters, with explicit times so durations and order are known.
Log records are emitted in their span's context (so they carry its trace and span ids), by
``shop-api`` and, under the RAG run's retrieval, by the vector store's own service ``kb-search``;
the newest record is ``shop-api``'s own, outside any trace.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

BIN = Path(sys.executable).parent
MS = 1_000_000
SERVICE = "shop-api"
KB_SERVICE = "kb-search"
SEVERITY = {  # as Python logging names them, and OpenTelemetry's numbers
    "DEBUG": SeverityNumber.DEBUG,
    "INFO": SeverityNumber.INFO,
    "WARNING": SeverityNumber.WARN,
    "ERROR": SeverityNumber.ERROR,
}
STREAM_CHUNKS = 1001  # log records of the first translation run: one over the page's 1,000
SEO = "SEO Slug Generator"
TRANSLATE = "translation_workflow"
RAG = "RAG support bot"
UNTRACED_LOG = "redis cache unreachable, serving without cache"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer {url} within {timeout} s")


@contextmanager
def running(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess that is terminated (then killed) however the block exits."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def running_collector(tmp: Path) -> Iterator[str]:
    port = free_port()
    argv = [
        str(BIN / "flowscope"),
        "collector",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--store",
        f"chdb://{tmp / 'chdb'}",
        "--spool-dir",
        str(tmp / "spool"),
    ]
    log = tmp / "collector.log"
    with running(argv, log, {"FLOWSCOPE_SPOOL_FSYNC": "false"}) as proc:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/healthz", proc, "collector")
            wait_http(f"{url}/api/stats/nodes", proc, "collector store")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text()[-3000:]}") from None
        yield url


@dataclass(frozen=True)
class KnownLog:
    time_unix_nano: int
    span_id: str
    severity_text: str
    body: str
    service: str = SERVICE


@dataclass
class KnownRun:
    trace_id: str
    workflow: str
    failed: bool
    node_spans: dict[str, str] = field(default_factory=dict)  # node id -> span id
    retrieval_span: str = ""
    logs: list[KnownLog] = field(default_factory=list)  # oldest first


@dataclass
class Known:
    """What was sent: the runs, newest last, and the totals the pages must show."""

    runs: list[KnownRun] = field(default_factory=list)
    untraced: list[KnownLog] = field(default_factory=list)  # records made outside any trace
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def of(self, workflow: str) -> list[KnownRun]:
        return [r for r in self.runs if r.workflow == workflow]

    def logs(self) -> list[tuple[str, KnownLog]]:
        """Every record sent, with its trace id ("" outside any trace), oldest first."""
        records = [(r.trace_id, log) for r in self.runs for log in r.logs]
        records += [("", log) for log in self.untraced]
        return sorted(records, key=lambda pair: pair[1].time_unix_nano)


def _hex(span: trace.Span, what: str) -> str:
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x") if what == "trace" else format(ctx.span_id, "016x")


class _Sender:
    def __init__(self, url: str) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
        self.provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"))
        )
        self.tracer = self.provider.get_tracer("flowscope.tests")
        self.log_providers = {
            service: LoggerProvider(resource=Resource.create({"service.name": service}))
            for service in (SERVICE, KB_SERVICE)
        }
        for logs in self.log_providers.values():
            logs.add_log_record_processor(
                BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs"))
            )
        self.known = Known()

    def shutdown(self) -> None:
        self.provider.shutdown()
        for logs in self.log_providers.values():
            logs.shutdown()

    def log(
        self,
        run: KnownRun,
        span: trace.Span,
        records: list[tuple[str, str]],
        start: int,
        end: int,
        service: str = SERVICE,
    ) -> None:
        """Emit ``(severity, message)`` records in ``span``'s context, spread over start..end."""
        logger = self.log_providers[service].get_logger("flowscope.tests")
        step = (end - start) // (len(records) + 1)
        for i, (severity, body) in enumerate(records, 1):
            at = start + i * step
            logger.emit(
                timestamp=at,
                observed_timestamp=at,
                context=trace.set_span_in_context(span),
                severity_number=SEVERITY[severity],
                severity_text=severity,
                body=body,
            )
            run.logs.append(KnownLog(at, _hex(span, "span"), severity, body, service))

    def log_outside_traces(self, at: int, severity: str, body: str) -> None:
        """A record of the service itself, in no trace (empty trace and span ids)."""
        logger = self.log_providers[SERVICE].get_logger("flowscope.tests")
        logger.emit(
            timestamp=at,
            observed_timestamp=at,
            context=otel_context.Context(),  # no span in it
            severity_number=SEVERITY[severity],
            severity_text=severity,
            body=body,
        )
        self.known.untraced.append(KnownLog(at, "", severity, body))

    def run(self, workflow: str, start: int, nodes: list[dict[str, Any]], fail: bool) -> None:
        wf = {
            "flowscope.workflow.name": workflow,
            "flowscope.workflow.id": f"wf-{workflow[:3].lower()}",
            "flowscope.workflow.run_id": f"run-{len(self.known.runs)}",
        }
        root = self.tracer.start_span(
            f"invoke_workflow {workflow}",
            start_time=start,
            attributes={**wf, "flowscope.span.kind": "workflow"},
        )
        run = KnownRun(_hex(root, "trace"), workflow, fail)
        parent_ctx = trace.set_span_in_context(root)
        t = start + 5 * MS
        for node in nodes:
            attrs = {
                **wf,
                "flowscope.span.kind": "node",
                "flowscope.node.id": node["id"],
                "flowscope.node.type": node["type"],
                "flowscope.node.title": node["title"],
                "flowscope.node.inputs": json.dumps(node.get("inputs", {})),
                "flowscope.node.outputs": json.dumps(node.get("outputs", {})),
            }
            span = self.tracer.start_span(
                f"{node['type']} {node['title']}",
                context=parent_ctx,
                start_time=t,
                attributes=attrs,
            )
            run.node_spans[node["id"]] = _hex(span, "span")
            if "llm" in node:
                self._llm(span, wf, node, t + MS)
            if "retrieval" in node:
                query, count = node["retrieval"]
                child = self.tracer.start_span(
                    "retrieve support-kb",
                    context=trace.set_span_in_context(span),
                    start_time=t + MS,
                    attributes={
                        **wf,
                        "flowscope.span.kind": "retrieval",
                        "flowscope.node.id": node["id"],
                        "flowscope.node.type": node["type"],
                        "flowscope.node.title": node["title"],
                        "flowscope.retrieval.query": query,
                        "flowscope.retrieval.result_count": count,
                        "flowscope.retrieval.dataset_ids": ["support-kb"],
                        **(
                            {
                                "flowscope.retrieval.shard_errors": [
                                    "shard kb-2 attempt 1: timed out after 300 ms"
                                ],
                                "flowscope.retrieval.shards_lost": ["kb-2"],
                            }
                            if count == 0
                            else {}
                        ),
                    },
                )
                run.retrieval_span = _hex(child, "span")
                end = t + (node["ms"] - 1) * MS
                self.log(run, child, node.get("kb_logs", []), t + MS, end, KB_SERVICE)
                child.end(end_time=end)
            if node.get("error"):
                span.set_status(Status(StatusCode.ERROR, node["error"]))
                span.add_event("exception", {"exception.message": node["error"]})
            self.log(run, span, node.get("logs", []), t, t + node["ms"] * MS)
            t += node["ms"] * MS
            span.end(end_time=t)
        if fail:
            root.set_status(Status(StatusCode.ERROR, "node failed"))
        root.end(end_time=t + 5 * MS)
        run.logs.sort(key=lambda record: record.time_unix_nano)
        self.known.runs.append(run)

    def _llm(self, node_span: trace.Span, wf: dict[str, str], node: dict[str, Any], t: int) -> None:
        model, tin, tout, cost = node["llm"]
        llm = self.tracer.start_span(
            f"chat {model}",
            context=trace.set_span_in_context(node_span),
            start_time=t,
            attributes={
                **wf,
                "flowscope.span.kind": "llm",
                "flowscope.node.id": node["id"],
                "flowscope.node.type": node["type"],
                "flowscope.node.title": node["title"],
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": tin,
                "gen_ai.usage.output_tokens": tout,
                "flowscope.cost.usd": cost,
                "flowscope.prompt.template": node.get("prompt", ""),
            },
        )
        llm.end(end_time=t + (node["ms"] - 2) * MS)
        self.known.input_tokens += tin
        self.known.output_tokens += tout
        self.known.cost_usd += cost


PROMPT_V1 = "Write a short URL slug for the title {{title}}."
PROMPT_V2 = "Write a short, lowercase URL slug for the title {{title}}. No stop words."


def seo_nodes(i: int) -> list[dict[str, Any]]:
    return [
        {
            "id": "1711",
            "type": "start",
            "title": "Start",
            "ms": 2,
            "outputs": {"title": f"Observability part {i}"},
        },
        {
            "id": "1712",
            "type": "llm",
            "title": "Generate slug",
            "ms": 100 * (i + 1),
            "llm": ("gpt-4o-mini", 100 * (i + 1), 20, 0.001 * (i + 1)),
            "prompt": PROMPT_V1 if i < 2 else PROMPT_V2,
            "inputs": {"title": f"Observability part {i}", "style": "short"},
            "outputs": {"text": f"observability-part-{i}"},
            # the first run predates OTEL_LOGS_EXPORTER=otlp: it has no log records
            "logs": [("INFO", f"generating slug for 'Observability part {i}'")] if i else [],
        },
        {
            "id": "1713",
            "type": "end",
            "title": "End",
            "ms": 3,
            "inputs": {"slug": f"observability-part-{i}"},
            "logs": [("INFO", f"slug ready: observability-part-{i}")] if i else [],
        },
    ]


def translate_nodes(fail: bool) -> list[dict[str, Any]]:
    llm: dict[str, Any] = {
        "id": "2001",
        "type": "llm",
        "title": "Translate",
        "ms": 400,
        "llm": ("gpt-4o", 500, 200, 0.01),
        "inputs": {"source_text": "Every penny traced", "target_lang": "French"},
        "outputs": {"text": "Chaque centime tracé"},
    }
    if fail:
        llm["error"] = "provider timeout after 30 s"
        llm["outputs"] = {}
        llm["logs"] = [
            ("DEBUG", "calling gpt-4o"),
            ("WARNING", "gpt-4o slow to answer, retrying (attempt 2)"),
            ("ERROR", "provider timeout after 30 s"),
        ]
    else:  # a chatty streaming loop: more records than the trace view shows
        llm["logs"] = [("DEBUG", f"stream chunk {n}") for n in range(1, STREAM_CHUNKS + 1)]
    return [{"id": "2000", "type": "start", "title": "Start", "ms": 2}, llm]


def rag_nodes() -> list[dict[str, Any]]:
    """The seed's story: the retriever runs fast and silently returns nothing."""
    return [
        {
            "id": "3000",
            "type": "start",
            "title": "Start",
            "ms": 1,
            "outputs": {"query": "How do I reset my password?"},
        },
        {
            "id": "3001",
            "type": "knowledge-retrieval",
            "title": "Search docs",
            "ms": 12,
            "retrieval": ("How do I reset my password?", 0),
            "logs": [("WARNING", "retrieval returned 0 chunks")],
            "kb_logs": [  # the vector store's own records, under the retrieval span
                ("WARNING", "shard kb-2 attempt 1: timed out after 300 ms"),
                ("INFO", "search support-kb: 0 hits from 2 of 3 shards"),
            ],
            "inputs": {"query": "How do I reset my password?"},
            "outputs": {"result": []},
        },
        {
            "id": "3002",
            "type": "answer",
            "title": "Answer",
            "ms": 2,
            "inputs": {"context": ""},
            "outputs": {"answer": ""},
        },
    ]


def send_known_spans(url: str) -> Known:
    """3 SEO runs, 2 translation runs (the second failed) and a RAG run whose retrieval came back
    empty, in the last hour, oldest first, with their log records (none for the first SEO run,
    ``STREAM_CHUNKS`` for the first translation run), then the newest record, outside any
    trace."""
    sender = _Sender(url)
    now = time.time_ns()
    start = now - 50 * 60 * 1_000_000_000
    for i in range(3):
        sender.run(SEO, start + i * 60_000 * MS, seo_nodes(i), fail=False)
    for i, fail in enumerate((False, True)):
        sender.run(TRANSLATE, start + (5 + i) * 60_000 * MS, translate_nodes(fail), fail=fail)
    sender.run(RAG, start + 8 * 60_000 * MS, rag_nodes(), fail=False)
    sender.log_outside_traces(start + 9 * 60_000 * MS, "WARNING", UNTRACED_LOG)
    sender.shutdown()
    return sender.known


def stored_log_count(url: str, trace_id: str) -> int:
    reply = httpx.get(f"{url}/api/traces/{trace_id}/logs", params={"limit": 10_000}, timeout=10)
    return len(reply.json()["logs"]) if reply.status_code == 200 else -1


def stored_untraced_count(url: str, known: Known) -> int:
    """How many of the records sent outside any trace the log search finds."""
    count = 0
    for body in {k.body for k in known.untraced}:
        reply = httpx.get(f"{url}/api/logs", params={"q": body, "limit": 1000}, timeout=10)
        if reply.status_code == 200:
            count += sum(r["trace_id"] == "" for r in reply.json()["logs"])
    return count


def wait_stored(url: str, known: Known, timeout: float = 90) -> None:
    """Until every sent trace and log record is readable through the read API (the spool drains
    async)."""
    deadline = time.monotonic() + timeout
    expected = {r.trace_id for r in known.runs}
    got: set[str] = set()
    logs = {r.trace_id: len(r.logs) for r in known.runs}
    logs[""] = len(known.untraced)  # "": outside any trace
    stored: dict[str, int] = {}
    while True:
        traces = httpx.get(f"{url}/api/traces", params={"limit": 100}, timeout=10)
        nodes = httpx.get(f"{url}/api/stats/nodes", timeout=10)
        if traces.status_code == 200 and nodes.status_code == 200:
            got = {t["trace_id"] for t in traces.json()["traces"]}
            if expected <= got and sum(n["count"] for n in nodes.json()["nodes"]) >= 16:
                stored = {r.trace_id: stored_log_count(url, r.trace_id) for r in known.runs}
                stored[""] = stored_untraced_count(url, known)
                if stored == logs:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"store has traces {sorted(got)}, expected {sorted(expected)}; "
                f"log records per trace {stored}, expected {logs}"
            )
        time.sleep(0.5)
