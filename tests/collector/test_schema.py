"""The schema manager: single-node and cluster DDL from one source; migrations re-run safely."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from collector_harness import FLOWSCOPE

from collector.storage import schema


def test_single_node_ddl_matches_the_clickhouse_exporter_layout() -> None:
    ddl = schema.render_ddl(ttl_days=30)
    traces = next(s for s in ddl if s.startswith("CREATE TABLE IF NOT EXISTS otel_traces ("))
    for column in (
        "Timestamp DateTime64(9)",
        "TraceId String",
        "SpanAttributes Map(LowCardinality(String), String)",
        "Events Nested",
        "Links Nested",
        "Duration UInt64",
    ):
        assert column in traces
    assert "ENGINE = MergeTree()" in traces
    assert "PARTITION BY toDate(Timestamp)" in traces
    assert "ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))" in traces
    assert "TTL toDateTime(Timestamp) + toIntervalDay(30)" in traces
    assert "INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1" in traces
    assert "ON CLUSTER" not in "\n".join(ddl)
    assert not any("Distributed" in s or "Replicated" in s for s in ddl)


def test_no_ttl_clause_when_ttl_is_zero() -> None:
    assert not any("TTL" in s for s in schema.render_ddl(ttl_days=0))


def test_cluster_ddl_uses_replicated_local_tables_and_distributed_by_trace_id() -> None:
    ddl = schema.render_ddl(cluster="prod")
    creates = [s for s in ddl if s.startswith("CREATE")]
    assert all(" ON CLUSTER prod " in s for s in creates)
    local = next(s for s in ddl if s.startswith("CREATE TABLE IF NOT EXISTS otel_traces_local "))
    zk_path = "/clickhouse/tables/{shard}/{database}/otel_traces_local"
    assert f"ENGINE = ReplicatedMergeTree('{zk_path}', '{{replica}}')" in local
    dist = next(s for s in ddl if s.startswith("CREATE TABLE IF NOT EXISTS otel_traces ON"))
    assert dist.endswith(
        "ENGINE = Distributed(prod, currentDatabase(), otel_traces_local, cityHash64(TraceId))"
    )
    lookup = next(
        s for s in ddl if s.startswith("CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts ON")
    )
    assert "cityHash64(TraceId)" in lookup
    rollup = next(
        s
        for s in ddl
        if "flowscope_node_stats_by_minute_local ON CLUSTER" in s and s.startswith("CREATE TABLE")
    )
    assert "ReplicatedAggregatingMergeTree(" in rollup
    views = [s for s in ddl if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) == 3
    for view in views:
        assert re.search(r"TO \w+_local AS SELECT", view)
        assert (
            "FROM otel_traces_local" in view or "FROM flowscope_node_stats_by_minute_local" in view
        )
    # every table, single node or cluster, comes from the same column definitions
    single = {s.split("(")[0].split()[-1]: s for s in schema.render_ddl() if "ENGINE =" in s}
    assert (
        single["otel_traces"].split("ENGINE")[0].split("(", 1)[1]
        == local.split("ENGINE")[0].split("(", 1)[1]
    )


def test_schema_print_command_prints_cluster_ddl() -> None:
    out = subprocess.run(
        [FLOWSCOPE, "schema", "print", "--cluster", "c1"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "CREATE TABLE IF NOT EXISTS otel_traces_local ON CLUSTER c1" in out
    assert (
        "ENGINE = Distributed(c1, currentDatabase(), otel_traces_local, cityHash64(TraceId))" in out
    )
    assert "ReplicatedReplacingMergeTree" in out  # the migrations table


def run_on_store(script: str, tmp_path: Path) -> list[str]:
    """Run ``script`` with a chDB store DSN as argv[1] in its own process (one engine each)."""
    python = str(Path(FLOWSCOPE).parent / "python")
    return subprocess.run(
        [python, "-c", script, f"chdb://{tmp_path / 'chdb'}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.splitlines()


def test_migrations_apply_once_and_rerun_harmlessly(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from collector.storage.store import ClickHouseStore\n"
        "s = ClickHouseStore(sys.argv[1])\n"
        "print(s.migrate(), s.migrate())\n"
        "print(sorted(r['name'] for r in s.query("
        '"SELECT name FROM system.tables WHERE database = currentDatabase()")))\n'
    )
    out = run_on_store(script, tmp_path)
    assert out[0] == f"{[m.version for m in schema.migrations()]} []"
    for table in (
        "otel_traces",
        "otel_traces_trace_id_ts",
        "flowscope_node_stats_by_minute",
        "flowscope_node_stats_by_hour",
        "flowscope_usage",
        "otel_logs",
        "flowscope_schema_migrations",
    ):
        assert f"'{table}'" in out[1]
    # the retired rollups' views are gone: nothing feeds the old tables twice
    assert "'flowscope_node_stats_1m_mv'" not in out[1]
    assert "'flowscope_node_stats_by_minute_mv'" in out[1]


def test_rollups_are_keyed_time_bucket_first() -> None:
    ddl = "\n".join(schema.render_ddl())
    assert "ORDER BY (Minute, WorkflowName, ServiceName, NodeId, NodeType)" in ddl
    assert "ORDER BY (Hour, WorkflowName, ServiceName, NodeId, NodeType)" in ddl
    assert "ALTER TABLE otel_traces ADD PROJECTION IF NOT EXISTS by_trace_id" in ddl
    # the current schema no longer creates the retired rollups
    assert "flowscope_node_stats_1m " not in ddl and "flowscope_node_stats_1h " not in ddl


UPGRADE = """
import json, sys
from collector.storage import schema
from collector.storage.store import ClickHouseStore
s = ClickHouseStore(sys.argv[1])
s.command(schema.migrations_table_ddl())
for m in schema.migrations()[:2]:  # a store made before migration 3
    for statement in m.statements:
        s.command(statement)
    s.command(f"INSERT INTO {schema.MIGRATIONS} (Version) VALUES ({m.version})")
s.command(
    "INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ServiceName, SpanAttributes, Duration) "
    "SELECT now64(9) - toIntervalMinute(number % 300), hex(number), hex(number), 'svc', "
    "map('flowscope.span.kind', 'node', 'flowscope.workflow.name', 'wf', "
    "'flowscope.node.id', toString(number % 3), 'flowscope.node.type', 'code'), "
    "1000000 * (number % 100) FROM numbers(3000)"
)
def totals(minute, hour):
    q = ("SELECT NodeId, sum(Count) AS c, "
         "quantilesTDigestWeightedMerge(0.5, 0.95, 0.99)(Latency) AS q FROM {} "
         "GROUP BY NodeId ORDER BY NodeId")
    return [s.query(q.format(minute)), s.query(q.format(hour))]
before = totals(schema.NODE_ROLLUP_V1, schema.NODE_ROLLUP_HOURLY_V2)
applied = s.migrate()
after = totals(schema.NODE_ROLLUP, schema.NODE_ROLLUP_HOURLY)
print(json.dumps({"applied": applied, "same": before == after, "before": before}, default=str))
s.command(
    "INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ServiceName, SpanAttributes, Duration) "
    "SELECT now64(9), 'ab', 'cd', 'svc', map('flowscope.span.kind', 'node', "
    "'flowscope.workflow.name', 'wf', 'flowscope.node.id', '0'), 1"
)
counts = [
    s.query(f"SELECT sum(Count) AS c FROM {t}")[0]["c"]
    for t in (schema.NODE_ROLLUP_V1, schema.NODE_ROLLUP, schema.NODE_ROLLUP_HOURLY)
]
print(json.dumps({"counts": counts, "again": s.migrate()}))
"""


def test_migration_3_carries_the_old_rollups_over_and_feeds_only_the_new(tmp_path: Path) -> None:
    out = run_on_store(UPGRADE, tmp_path)
    upgrade, later = json.loads(out[-2]), json.loads(out[-1])
    assert upgrade["applied"][0] == 3
    assert sum(int(row["c"]) for row in upgrade["before"][0]) == 3000
    assert upgrade["same"], upgrade
    # a span stored after the upgrade reaches the new rollups only; re-running applies nothing
    assert later == {"counts": [3000, 3001, 3001], "again": []}


LOOKUP = """
import sys
from collector.storage import queries, schema
from collector.storage.store import ClickHouseStore
s = ClickHouseStore(sys.argv[1])
s.migrate()
s.command(
    "INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName) "
    "SELECT now64(9), lower(hex(MD5(toString(number % 2000)))), "
    "substring(lower(hex(MD5(toString(number)))), 1, 16), '', "
    "concat('node ', toString(number % 9)) FROM numbers(20000)"
)
trace_id = s.query("SELECT lower(hex(MD5('7'))) AS id")[0]["id"]
explain = "EXPLAIN indexes = 1 " + queries.TRACE_BY_RANGE
plan = [r["explain"] for r in s.query(explain, {"trace_id": trace_id})]
print(sum(f"ReadFromMergeTree ({schema.TRACE_PROJECTION})" in line for line in plan))
print(len(queries.get_trace(s, trace_id)))
"""


def test_trace_lookup_reads_the_trace_id_projection(tmp_path: Path) -> None:
    reads_projection, spans = run_on_store(LOOKUP, tmp_path)
    assert reads_projection == "1"  # not the exporter's layout, scattered by span name
    assert spans == "10"
