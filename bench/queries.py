"""Read-path benchmark: node stats and trace lookup over a large embedded store.

``python -m bench.queries [--spans 10000000] [--repeat 20]`` creates the collector's schema in a
temporary chDB directory, loads synthetic flowscope spans with ``INSERT … SELECT FROM numbers()``
(10 spans per trace: a workflow root, 7 node spans, 2 llm spans with tokens and cost, spread over
the last 24 hours in time order, as a running collector receives them; the materialized views fill
the rollups and the trace-id lookup table, and the trace-id projection is built, exactly as at
ingest), lets background merges finish (``merge_wait_s``; no ``OPTIMIZE``: the parts stay as a
running store's merges leave them), measures the raw baselines in-process, then starts
``flowscope collector`` on the store and reads through the dashboard's own HTTP client
(``dashboard.client.CollectorClient``):

- ``node_stats_median_ms``: ``GET /api/stats/nodes`` over the default 7-day window
  (target <= 150 ms); baseline ``node_stats_raw_median_ms``: the same figures aggregated straight
  from ``otel_traces``;
- ``trace_lookup_median_ms``: ``GET /api/traces/{id}`` for random trace ids (target <= 50 ms);
  baseline ``trace_lookup_raw_median_ms``: the same spans fetched by ``TraceId`` alone from the
  exporter's layout (bloom filter; no lookup table, no projection).

``*_query_median_ms`` are the read API's query functions called in-process (no HTTP, no JSON), to
show the transport's share. Medians of ``--repeat`` calls after one warm-up call. The last stdout
line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.readiness import wait_until_store_ready
from collector.storage import queries, schema, stats
from collector.storage.store import ClickHouseStore
from dashboard.client import CollectorClient

CHUNK = 1_000_000

LOAD = f"""
INSERT INTO {schema.TRACES} (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind,
    ServiceName, ResourceAttributes, ScopeName, SpanAttributes, Duration, StatusCode, CostUsd,
    CostSource)
SELECT
    fromUnixTimestamp64Nano(toInt64({{now:Int64}})
        - toInt64(86400 - intDiv(intDiv(number, 10) * 86400, {{traces:UInt64}})) * 1000000000
        + (number % 10) * 1000) AS Timestamp,
    lower(hex(MD5(toString(intDiv(number, 10))))) AS TraceId,
    substring(lower(hex(MD5(toString(number)))), 1, 16) AS SpanId,
    if(idx = 0, '', substring(lower(hex(MD5(toString(number - idx)))), 1, 16)) AS ParentSpanId,
    multiIf(idx = 0, concat('invoke_workflow ', wf), idx >= 8, 'chat gpt-4o-mini',
            concat('node ', toString(idx))) AS SpanName,
    if(idx >= 8, 'Client', 'Internal') AS SpanKind,
    'bench-queries' AS ServiceName,
    map('service.name', 'bench-queries') AS ResourceAttributes,
    'flowscope.probe' AS ScopeName,
    map('flowscope.span.kind', kind, 'flowscope.workflow.name', wf,
        'flowscope.node.id', node_id, 'flowscope.node.type', if(kind = 'workflow', '', node_type),
        'flowscope.node.title', if(kind = 'workflow', '', concat('Node ', node_id)),
        'gen_ai.request.model', if(kind = 'llm', 'gpt-4o-mini', ''),
        'gen_ai.usage.input_tokens', if(kind = 'llm', toString(100 + number % 900), ''),
        'gen_ai.usage.output_tokens', if(kind = 'llm', toString(10 + number % 90), ''),
        'sampling.rate', '1.0') AS SpanAttributes,
    (1000000 + (cityHash64(number) % 400000000)) AS Duration,
    if(cityHash64(number, 1) % 100 = 0, 'Error', 'Unset') AS StatusCode,
    if(kind = 'llm', (100 + number % 900) * 0.15e-6 + (10 + number % 90) * 0.6e-6, 0) AS CostUsd,
    if(kind = 'llm', 'genai-prices', '') AS CostSource
FROM (
    SELECT number, number % 10 AS idx,
        ['SEO Slug Generator', 'translation_workflow', 'Document chat',
         'Deep research'][intDiv(number, 10) % 4 + 1] AS wf,
        multiIf(idx = 0, 'workflow', idx >= 8, 'llm', 'node') AS kind,
        if(idx = 0, '', toString(multiIf(idx = 8, 3, idx = 9, 6, idx))) AS node_id,
        ['start', 'code', 'llm', 'if-else', 'template-transform', 'llm', 'end'][
            toUInt8(multiIf(idx = 8, 3, idx = 9, 6, idx = 0, 1, idx))] AS node_type
    FROM numbers({{start:UInt64}}, {{count:UInt64}})
)
"""

RAW_NODE_STATS = f"""
SELECT WorkflowName, NodeId, countIf(FlowscopeKind = 'node') AS count,
    countIf(FlowscopeKind = 'node' AND StatusCode = 'Error') AS errors,
    quantilesIf(0.5, 0.95)(Duration, FlowscopeKind = 'node') AS q,
    sumIf(InputTokens, FlowscopeKind = 'llm') AS input_tokens,
    sumIf(OutputTokens, FlowscopeKind = 'llm') AS output_tokens,
    sumIf(CostUsd, FlowscopeKind = 'llm') AS cost
FROM {schema.TRACES}
WHERE Timestamp >= {{since:DateTime64(9)}} AND Timestamp <= {{until:DateTime64(9)}}
    AND NodeId != ''
GROUP BY WorkflowName, NodeId
"""


def load(store: ClickHouseStore, spans: int) -> float:
    """Traces in time order, like a running collector receives them: each chunk is the next
    slice of the day, so parts (and the rollups' rows) cover consecutive time ranges."""
    now = time.time_ns()
    started = time.perf_counter()
    for start in range(0, spans, CHUNK):
        count = min(CHUNK, spans - start)
        store.command(LOAD, {"now": now, "start": start, "count": count, "traces": spans // 10})
    return time.perf_counter() - started


def settle(store: ClickHouseStore, timeout: float = 1800) -> float:
    """Wait until background merges have nothing left to do (they run long before anyone reads
    a 10M-span store); the parts stay as merges leave them, with no forced ``OPTIMIZE``."""
    started = time.perf_counter()
    idle_since = None
    while time.perf_counter() - started < timeout:
        busy = store.query("SELECT count() AS n FROM system.merges")[0]["n"] > 0
        if busy:
            idle_since = None
        elif idle_since is None:
            idle_since = time.perf_counter()
        elif time.perf_counter() - idle_since >= 5:  # no new merge scheduled for 5 s
            break
        time.sleep(0.5)
    return time.perf_counter() - started


def parts(store: ClickHouseStore) -> dict[str, int]:
    rows = store.query(
        "SELECT table, count() AS n FROM system.parts WHERE active "
        "AND database = currentDatabase() GROUP BY table"
    )
    return {r["table"]: int(r["n"]) for r in rows}


def disk_mb(store: ClickHouseStore) -> dict[str, float]:
    """Compressed size of ``otel_traces`` and of its trace-id projection."""
    spans, projection = (
        store.query(
            f"SELECT sum(data_compressed_bytes) AS b FROM system.{kind} WHERE active "
            f"AND database = currentDatabase() AND table = '{schema.TRACES}'"
        )[0]["b"]
        for kind in ("parts", "projection_parts")
    )
    return {
        "otel_traces": round(spans / 1e6, 1),
        schema.TRACE_PROJECTION: round(projection / 1e6, 1),
    }


@contextmanager
def collector(store_dir: Path, workdir: Path) -> Iterator[CollectorClient]:
    """``flowscope collector`` serving the store on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).parent / "flowscope"
    env = {k: v for k, v in os.environ.items() if k != "FLOWSCOPE_STORE"}
    log = (workdir / "collector.log").open("wb")
    proc = subprocess.Popen(
        [
            str(exe),
            "collector",
            "--port",
            str(port),
            "--store",
            f"chdb://{store_dir}",
            "--spool-dir",
            str(workdir / "spool"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_store_ready(url, 300, process=proc, log=workdir / "collector.log", poll_s=0.5)
        client = CollectorClient(url)
        try:
            yield client
        finally:
            client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm caches: the dashboard polls the same queries repeatedly
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    spans = args.spans - args.spans % 10
    workdir = Path(tempfile.mkdtemp(prefix="flowscope-bench-queries-"))
    try:
        store = ClickHouseStore(f"chdb://{workdir / 'chdb'}")
        store.migrate()
        load_s = load(store, spans)
        merge_s = settle(store)
        stored = store.query(f"SELECT count() AS n FROM {schema.TRACES}")[0]["n"]
        assert stored == spans, f"loaded {stored} of {spans} spans"
        now = datetime.now(UTC).replace(tzinfo=None)
        window = queries.Window(now - timedelta(days=7), now + timedelta(minutes=5))
        nodes = stats.node_stats(store, window, None, None)
        assert len(nodes) == 4 * 7 and sum(n["count"] for n in nodes) == spans // 10 * 7, [
            (n["workflow"], n["node_id"], n["count"]) for n in nodes
        ]
        traces = spans // 10
        rng = random.Random(1)
        ids = [
            r["id"]
            for r in store.query(
                "SELECT lower(hex(MD5(toString(n)))) AS id FROM "
                "(SELECT arrayJoin({ns:Array(UInt64)}) AS n)",
                {"ns": [rng.randrange(traces) for _ in range(4 * (args.repeat + 1))]},
            )
        ]
        picks = iter(ids)  # distinct traces for each measurement: no warm page cache

        def lookup() -> None:
            found = queries.get_trace(store, next(picks))
            assert len(found) == 10

        def raw_lookup() -> None:
            rows = store.query(
                f"SELECT {queries.SPAN_FIELDS}, {queries.NESTED_FIELDS} FROM {schema.TRACES} "
                "WHERE TraceId = {id:String} "
                "SETTINGS optimize_use_projections = 0",
                {"id": next(picks)},
            )
            assert len(rows) == 10

        params = window.params()
        part_counts = parts(store)
        sizes = disk_mb(store)
        node_query_ms = median_ms(lambda: stats.node_stats(store, window, None, None), args.repeat)
        raw_node_ms = median_ms(lambda: store.query(RAW_NODE_STATS, params), args.repeat)
        lookup_query_ms = median_ms(lookup, args.repeat)
        raw_lookup_ms = median_ms(raw_lookup, args.repeat)
        store.close()
        with collector(workdir / "chdb", workdir) as client:

            def api_nodes() -> None:
                assert len(client.node_stats()) == 4 * 7

            def api_lookup() -> None:
                trace = client.trace(next(picks))
                assert trace is not None and len(trace.spans) == 10

            node_ms = median_ms(api_nodes, args.repeat)
            lookup_ms = median_ms(api_lookup, args.repeat)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "spans": spans,
                "load_s": round(load_s, 1),
                "merge_wait_s": round(merge_s, 1),
                "node_stats_median_ms": node_ms,
                "node_stats_target_ms": 150,
                "node_stats_raw_median_ms": raw_node_ms,
                "node_stats_speedup": round(raw_node_ms / node_ms, 1) if node_ms else None,
                "trace_lookup_median_ms": lookup_ms,
                "trace_lookup_target_ms": 50,
                "trace_lookup_raw_median_ms": raw_lookup_ms,
                "trace_lookup_speedup": round(raw_lookup_ms / lookup_ms, 1) if lookup_ms else None,
                "node_stats_query_median_ms": node_query_ms,
                "trace_lookup_query_median_ms": lookup_query_ms,
                "parts": part_counts,
                "disk_mb": sizes,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
