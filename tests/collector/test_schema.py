"""The schema manager: single-node and cluster DDL from one source; migrations re-run safely."""

from __future__ import annotations

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
        if "flowscope_node_stats_1m_local ON CLUSTER" in s and s.startswith("CREATE TABLE")
    )
    assert "ReplicatedAggregatingMergeTree(" in rollup
    views = [s for s in ddl if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) == 3
    for view in views:
        assert re.search(r"TO \w+_local AS SELECT", view)
        assert "FROM otel_traces_local" in view or "FROM flowscope_node_stats_1m_local" in view
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


def test_migrations_apply_once_and_rerun_harmlessly(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from collector.storage.store import ClickHouseStore\n"
        "s = ClickHouseStore(sys.argv[1])\n"
        "print(s.migrate(), s.migrate())\n"
        "print(sorted(r['name'] for r in s.query("
        '"SELECT name FROM system.tables WHERE database = currentDatabase()")))\n'
    )
    python = str(Path(FLOWSCOPE).parent / "python")
    out = subprocess.run(
        [python, "-c", script, f"chdb://{tmp_path / 'chdb'}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.splitlines()
    assert out[0] == "[1, 2] []"
    for table in (
        "otel_traces",
        "otel_traces_trace_id_ts",
        "flowscope_node_stats_1m",
        "flowscope_usage",
        "flowscope_schema_migrations",
    ):
        assert f"'{table}'" in out[1]
