"""The collector's ClickHouse-server code path over real HTTP.

Three real processes: ``chdb_http_front.py`` (ClickHouse's HTTP interface served from chDB, see
its docstring for what it does and does not cover), ``flowscope collector --store
clickhouse://user:pass@127.0.0.1:PORT/flowscope`` and this test, which sends spans with the stock
OpenTelemetry SDK exporter and reads them back through the collector's read API.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from collector.storage import schema

FRONT = Path(__file__).with_name("chdb_http_front.py")
FLOWSCOPE = str(Path(sys.executable).parent / "flowscope")
# URL-safe on purpose: the collector does not percent-decode DSN credentials yet (see
# docs/operations.md, "ClickHouse credentials").
USER, PASSWORD, DATABASE = "flowscope", "s3cret-pw_42", "flowscope"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    log: Path
    url: str

    def text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


def _spawn(cmd: list[str], workdir: Path, name: str, ready_path: str) -> Proc:
    workdir.mkdir(parents=True, exist_ok=True)
    port = int(cmd[cmd.index("--port") + 1])
    log = workdir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWSCOPE_", "OTEL_"))}
    with log.open("ab") as out:
        popen = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    proc = Proc(popen, log, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited {popen.returncode}: {proc.text()}")
        try:
            if httpx.get(f"{proc.url}{ready_path}", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.stop()
    raise TimeoutError(f"{name} not ready: {proc.text()}")


def start_front(workdir: Path) -> Proc:
    cmd = [sys.executable, str(FRONT), "--port", str(free_port()), "--data", str(workdir / "ch")]
    cmd += ["--database", DATABASE, "--user", USER, "--password", PASSWORD]
    return _spawn(cmd, workdir, "front", "/ping")


def start_collector(workdir: Path, front_port: int, password: str = PASSWORD) -> Proc:
    from urllib.parse import quote

    dsn = f"clickhouse://{USER}:{quote(password, safe='')}@127.0.0.1:{front_port}/{DATABASE}"
    cmd = [FLOWSCOPE, "collector", "--port", str(free_port()), "--store", dsn]
    cmd += ["--spool-dir", str(workdir / "spool")]
    return _spawn(cmd, workdir, "collector", "/healthz")


def health(collector: Proc) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(f"{collector.url}/healthz", timeout=5).json()
    return result


def wait_for(predicate: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    root = Path(tmp_path_factory.mktemp("chserver"))
    front = start_front(root / "front")
    try:
        collector = start_collector(root / "collector", int(front.url.rsplit(":", 1)[1]))
        try:
            wait_for(
                lambda: health(collector)["store_ready"],
                f"store ready over HTTP: {collector.text()}",
            )
            yield front, collector
        finally:
            collector.stop()
    finally:
        front.stop()


def send_log_record(collector_url: str, trace_id: str, body: str) -> None:
    """One OTLP log record of ``trace_id``, as protobuf."""
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.time_unix_nano = record.observed_time_unix_nano = time.time_ns()
    record.trace_id = bytes.fromhex(trace_id)
    record.body.string_value = body
    response = httpx.post(
        f"{collector_url}/v1/logs",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def send_workflow_run(collector_url: str, workflow: str) -> str:
    """One workflow run (workflow → node → llm span) through the stock OTLP/HTTP exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": "deploy-test"}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{collector_url}/v1/traces"))
    )
    tracer = provider.get_tracer("deploy-test")
    common = {"flowscope.workflow.name": workflow, "flowscope.workflow.id": "wf-1"}
    with tracer.start_as_current_span(
        f"invoke_workflow {workflow}", attributes={**common, "flowscope.span.kind": "workflow"}
    ) as root:
        node = {**common, "flowscope.node.id": "n-llm", "flowscope.node.type": "llm"}
        with (
            tracer.start_as_current_span(
                "llm Summarise", attributes={**node, "flowscope.span.kind": "node"}
            ),
            tracer.start_as_current_span(
                "chat gpt-4o-mini",
                attributes={
                    **node,
                    "flowscope.span.kind": "llm",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 1000,
                    "gen_ai.usage.output_tokens": 200,
                },
            ) as llm,
        ):
            llm.set_status(Status(StatusCode.OK))
        trace_id = format(root.get_span_context().trace_id, "032x")
    assert provider.force_flush(30_000)
    provider.shutdown()
    return trace_id


def test_spans_from_the_otel_sdk_are_stored_in_the_server_and_read_back(
    stack: tuple[Proc, Proc],
) -> None:
    front, collector = stack
    trace_id = send_workflow_run(collector.url, "http-store")
    wait_for(lambda: health(collector)["spool_backlog_bytes"] == 0, "spool drained")

    trace = httpx.get(f"{collector.url}/api/traces/{trace_id}", timeout=30)
    assert trace.status_code == 200, trace.text
    spans = {s["name"]: s for s in trace.json()["spans"]}
    assert set(spans) == {"invoke_workflow http-store", "llm Summarise", "chat gpt-4o-mini"}
    llm = spans["chat gpt-4o-mini"]
    assert llm["attributes"]["gen_ai.usage.input_tokens"] == "1000"
    assert llm["cost_usd"] > 0  # priced at ingest, stored through the HTTP insert path
    root_id = spans["invoke_workflow http-store"]["span_id"]
    assert spans["llm Summarise"]["parent_span_id"] == root_id

    listing = httpx.get(
        f"{collector.url}/api/traces", params={"workflow": "http-store"}, timeout=30
    ).json()
    assert [t["trace_id"] for t in listing["traces"]] == [trace_id]
    nodes = httpx.get(
        f"{collector.url}/api/stats/nodes", params={"workflow": "http-store"}, timeout=30
    ).json()["nodes"]
    assert [(n["node_id"], n["count"], n["input_tokens"]) for n in nodes] == [("n-llm", 1, 1000)]

    # The rows are in the server's database, reached over HTTP with the DSN's credentials.
    port = int(front.url.rsplit(":", 1)[1])
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=port, username=USER, password=PASSWORD, database=DATABASE
    )
    try:
        stored = client.query(
            "SELECT count() FROM otel_traces WHERE TraceId = {t:String}", parameters={"t": trace_id}
        ).result_rows
        versions = client.query(
            "SELECT Version FROM flowscope_schema_migrations FINAL ORDER BY Version"
        ).result_rows
    finally:
        client.close()
    assert stored == [(3,)]
    assert [v[0] for v in versions] == [m.version for m in schema.migrations()]


def test_wrong_password_is_reported_and_spans_wait_in_the_spool(
    stack: tuple[Proc, Proc], tmp_path: Path
) -> None:
    front, _ = stack
    port = int(front.url.rsplit(":", 1)[1])
    collector = start_collector(tmp_path, port, password="not-the-pw-42")
    try:
        error = wait_for(lambda: health(collector)["store_error"], "store error")
        assert "Authentication failed" in error
        assert "not-the-pw-42" not in error  # the DSN's password is redacted
        send_workflow_run(collector.url, "auth-refused")  # acknowledged into the spool
        assert health(collector)["spool_backlog_bytes"] > 0
        assert not health(collector)["store_ready"]
    finally:
        collector.stop()


def test_replayed_insert_with_the_same_dedup_token_is_stored_once(
    stack: tuple[Proc, Proc],
) -> None:
    """The spool's crash replay relies on insert_deduplication_token reaching the server."""
    front, _ = stack
    port = int(front.url.rsplit(":", 1)[1])
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=port, username=USER, password=PASSWORD, database=DATABASE
    )
    try:
        client.command(
            "CREATE TABLE IF NOT EXISTS dedup_probe (k UInt32, m Map(LowCardinality(String), "
            "String)) ENGINE = MergeTree ORDER BY k "
            "SETTINGS non_replicated_deduplication_window = 100"
        )
        for token in ("seg-1:0:10", "seg-1:0:10", "seg-1:10:20"):
            client.insert(
                "dedup_probe",
                [[1, 2], [{"a": "b"}, {}]],
                column_names=["k", "m"],
                column_oriented=True,
                settings={"insert_deduplication_token": token},
            )
        assert client.command("SELECT count() FROM dedup_probe") == 4
    finally:
        client.close()


def test_an_embedded_store_copied_into_the_server_is_served_by_the_server_collector(
    stack: tuple[Proc, Proc], tmp_path: Path
) -> None:
    """docs/operations.md step 7: move history from chDB to the server with copy_embedded.py."""
    front, server_collector = stack
    embedded_dir = tmp_path / "chdb"
    cmd = [FLOWSCOPE, "collector", "--port", str(free_port()), "--store", f"chdb://{embedded_dir}"]
    cmd += ["--spool-dir", str(tmp_path / "spool")]
    embedded = _spawn(cmd, tmp_path / "embedded", "embedded", "/healthz")
    try:
        wait_for(lambda: health(embedded)["store_ready"], "embedded store ready")
        trace_ids = [send_workflow_run(embedded.url, "moved-over") for _ in range(3)]
        wait_for(lambda: health(embedded)["spans_stored"] == 9, "9 spans stored")
        send_log_record(embedded.url, trace_ids[0], "moved along with its trace")
        wait_for(lambda: health(embedded)["log_records_stored"] == 1, "1 log record stored")
    finally:
        embedded.stop()  # chDB is one process: the copy needs the directory free
    dsn = f"clickhouse://{USER}:{PASSWORD}@127.0.0.1:{front.url.rsplit(':', 1)[1]}/{DATABASE}"
    script = Path(__file__).resolve().parents[2] / "deploy/copy_embedded.py"
    for _ in range(2):  # a re-run (after an interruption) must not duplicate anything
        proc = subprocess.run(
            [sys.executable, str(script), str(embedded_dir), dsn],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "otel_traces: 9 rows" in proc.stdout
        assert "otel_logs: 1 rows" in proc.stdout
    for trace_id in trace_ids:
        trace = httpx.get(f"{server_collector.url}/api/traces/{trace_id}", timeout=30).json()
        assert len(trace["spans"]) == 3
    logs = httpx.get(f"{server_collector.url}/api/traces/{trace_ids[0]}/logs", timeout=30).json()
    assert [r["body"] for r in logs["logs"]] == ["moved along with its trace"]
    nodes = httpx.get(
        f"{server_collector.url}/api/stats/nodes", params={"workflow": "moved-over"}, timeout=30
    ).json()["nodes"]
    assert [(n["node_id"], n["count"], n["input_tokens"]) for n in nodes] == [("n-llm", 3, 3000)]


def test_compose_workload_script_traces_corpus_workflows_into_the_server(
    stack: tuple[Proc, Proc],
) -> None:
    """scripts/workload.sh (the compose `workload` service) → collector → ClickHouse server."""
    _, collector = stack
    root = Path(__file__).resolve().parents[2]
    corpus = root.parent / "shared" / "dify-dsl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWSCOPE_", "OTEL_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        FLOWSCOPE_LLM_PROVIDER="simulated",
        FLOWSCOPE_CORPUS=str(corpus),
        FLOWSCOPE_WORKLOAD_RUNS="1",
    )
    proc = subprocess.run(
        ["bash", str(root / "scripts/workload.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count('"status": "succeeded"') == 2, proc.stdout[-2000:]
    wait_for(lambda: health(collector)["spool_backlog_bytes"] == 0, "spool drained")
    traces = httpx.get(
        f"{collector.url}/api/traces", params={"service": "flowscope-workload"}, timeout=30
    ).json()["traces"]
    assert {t["workflow"] for t in traces} == {"SEO Slug Generator", "translation_workflow"}
    assert len(traces) == 2 and all(t["span_count"] > 1 for t in traces)
