"""Read-path benchmark: node stats and trace lookup over a large embedded store.

``python -m bench.queries [--spans 10000000] [--repeat 20]`` creates the collector's schema in a
temporary chDB directory, loads synthetic flowscope spans with ``INSERT … SELECT FROM numbers()``
(10 spans per trace: a workflow root, 7 node spans, 2 llm spans with tokens and cost, spread over
the last 24 hours; the materialized views fill the rollup and the trace-id lookup table exactly
as ingest does), lets background merges finish (``merge_wait_s``), then runs the read API's own
query functions and prints their median latency:

- ``node_stats_median_ms``: ``/api/stats/nodes`` (the rollup) over the default 7-day window
  (target <= 150 ms); baseline ``node_stats_raw_median_ms``: the same figures aggregated straight
  from ``otel_traces``;
- ``trace_lookup_median_ms``: ``/api/traces/{id}`` for random trace ids (target <= 50 ms);
  baseline ``trace_lookup_raw_median_ms``: the same spans fetched by ``TraceId`` alone, without
  the trace-id → time-range table.

The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collector.storage import queries, schema, stats
from collector.storage.store import ClickHouseStore

CHUNK = 1_000_000

LOAD = f"""
INSERT INTO {schema.TRACES} (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind,
    ServiceName, ResourceAttributes, ScopeName, SpanAttributes, Duration, StatusCode, CostUsd,
    CostSource)
SELECT
    fromUnixTimestamp64Nano(toInt64({{now:Int64}})
        - toInt64(intDiv(number, 10) % 86400) * 1000000000 + (number % 10) * 1000) AS Timestamp,
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
    now = time.time_ns()
    started = time.perf_counter()
    for start in range(0, spans, CHUNK):
        store.command(LOAD, {"now": now, "start": start, "count": min(CHUNK, spans - start)})
    return time.perf_counter() - started


def settle(store: ClickHouseStore, timeout: float = 1800) -> float:
    """Let background merges finish, as they would long before anyone reads a 10M-span store."""
    started = time.perf_counter()
    for table in (schema.NODE_ROLLUP, schema.NODE_ROLLUP_HOURLY, schema.TRACE_ID_TS):
        store.command(f"OPTIMIZE TABLE {table} FINAL")
    while time.perf_counter() - started < timeout:
        if store.query("SELECT count() AS n FROM system.merges")[0]["n"] == 0:
            break
        time.sleep(1)
    return time.perf_counter() - started


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
                {"ns": [rng.randrange(traces) for _ in range(2 * (args.repeat + 1))]},
            )
        ]
        picks = iter(ids)  # distinct traces for each measurement: no warm page cache

        def lookup() -> None:
            found = queries.get_trace(store, next(picks))
            assert len(found) == 10

        def raw_lookup() -> None:
            rows = store.query(
                f"SELECT {queries.SPAN_FIELDS} FROM {schema.TRACES} WHERE TraceId = {{id:String}}",
                {"id": next(picks)},
            )
            assert len(rows) == 10

        params = window.params()
        node_ms = median_ms(lambda: stats.node_stats(store, window, None, None), args.repeat)
        raw_node_ms = median_ms(lambda: store.query(RAW_NODE_STATS, params), args.repeat)
        lookup_ms = median_ms(lookup, args.repeat)
        raw_lookup_ms = median_ms(raw_lookup, args.repeat)
        store.close()
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
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
