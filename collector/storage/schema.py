"""The store's schema, defined once and rendered for a single node or a cluster.

``otel_traces`` and ``otel_traces_trace_id_ts`` follow the OpenTelemetry Collector ClickHouse
exporter (same columns, types, partitioning, sort key, TTL and skip indexes), so Grafana's
ClickHouse plugin and the exporter's users can read them. flowscope adds materialized columns
(workflow, node, model, tokens), ingest-time cost columns and a per-node-per-minute rollup.

For a cluster every table becomes a ``Replicated*MergeTree`` ``*_local`` table created
``ON CLUSTER`` plus a ``Distributed`` table under the plain name, sharded by trace id so a whole
trace stays on one shard; materialized views read and write the local tables.
"""

from __future__ import annotations

from dataclasses import dataclass

TRACES = "otel_traces"
TRACE_ID_TS = "otel_traces_trace_id_ts"
# The node rollups the read API and reprice use (migration 3): keyed time bucket first.
NODE_ROLLUP = "flowscope_node_stats_by_minute"
NODE_ROLLUP_HOURLY = "flowscope_node_stats_by_hour"
# Their predecessors (migrations 1 and 2), keyed workflow and node first: a time window had to
# deserialize every latency state of the month. Migration 3 copies them over and stops feeding
# them; the tables stay (frozen) so nothing is lost.
NODE_ROLLUP_V1 = "flowscope_node_stats_1m"
NODE_ROLLUP_HOURLY_V2 = "flowscope_node_stats_1h"
USAGE = "flowscope_usage"
LOGS = "otel_logs"
MIGRATIONS = "flowscope_schema_migrations"

SPAN_COLUMNS = """
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    CostUsd Float64 DEFAULT 0 CODEC(ZSTD(1)),
    CostSource LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)),
    FlowscopeKind LowCardinality(String)
        MATERIALIZED SpanAttributes['flowscope.span.kind'],
    WorkflowId LowCardinality(String) MATERIALIZED SpanAttributes['flowscope.workflow.id'],
    WorkflowName LowCardinality(String) MATERIALIZED SpanAttributes['flowscope.workflow.name'],
    RunId String MATERIALIZED SpanAttributes['flowscope.workflow.run_id'],
    NodeId LowCardinality(String) MATERIALIZED SpanAttributes['flowscope.node.id'],
    NodeType LowCardinality(String) MATERIALIZED SpanAttributes['flowscope.node.type'],
    NodeTitle LowCardinality(String) MATERIALIZED SpanAttributes['flowscope.node.title'],
    Provider LowCardinality(String) MATERIALIZED if(
        SpanAttributes['gen_ai.provider.name'] != '',
        SpanAttributes['gen_ai.provider.name'], SpanAttributes['gen_ai.system']),
    Model LowCardinality(String) MATERIALIZED if(
        SpanAttributes['gen_ai.request.model'] != '',
        SpanAttributes['gen_ai.request.model'], SpanAttributes['gen_ai.response.model']),
    InputTokens UInt64 MATERIALIZED toUInt64OrZero(SpanAttributes['gen_ai.usage.input_tokens']),
    OutputTokens UInt64 MATERIALIZED toUInt64OrZero(SpanAttributes['gen_ai.usage.output_tokens']),
    CacheReadTokens UInt64
        MATERIALIZED toUInt64OrZero(SpanAttributes['gen_ai.usage.cache_read.input_tokens']),
    SamplingRate Float64 MATERIALIZED toFloat64OrZero(SpanAttributes['sampling.rate']),
    AdjustedCount UInt32 MATERIALIZED toUInt32(if(SamplingRate > 0 AND SamplingRate < 1,
        least(1e9, greatest(1, round(1 / greatest(SamplingRate, 1e-9)))), 1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
"""

TRACE_ID_TS_COLUMNS = """
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
"""

NODE_ROLLUP_COLUMNS = """
    {bucket} DateTime CODEC(Delta, ZSTD(1)),
    ServiceName LowCardinality(String),
    WorkflowName LowCardinality(String),
    NodeId LowCardinality(String),
    NodeType LowCardinality(String),
    NodeTitle SimpleAggregateFunction(anyLast, String),
    Spans SimpleAggregateFunction(sum, UInt64),
    Count SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64),
    InputTokens SimpleAggregateFunction(sum, UInt64),
    OutputTokens SimpleAggregateFunction(sum, UInt64),
    CostUsd SimpleAggregateFunction(sum, Float64),
    Latency AggregateFunction(quantilesTDigestWeighted(0.5, 0.95, 0.99), UInt64, UInt32)
"""

USAGE_COLUMNS = """
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    StartTimestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    ServiceName LowCardinality(String),
    ServiceInstance String,
    MetricName LowCardinality(String),
    Attributes Map(LowCardinality(String), String),
    Cumulative UInt8,
    Value Float64,
    WorkflowName LowCardinality(String) MATERIALIZED Attributes['flowscope.workflow.name'],
    NodeId LowCardinality(String) MATERIALIZED Attributes['flowscope.node.id'],
    Provider LowCardinality(String) MATERIALIZED Attributes['gen_ai.provider.name'],
    Model LowCardinality(String) MATERIALIZED Attributes['gen_ai.request.model'],
    TokenType LowCardinality(String) MATERIALIZED Attributes['gen_ai.token.type']
"""

# The exporter's otel_logs (same columns, sort key, partitioning and skip indexes) plus the
# record's observed time, which the exporter drops.
LOG_COLUMNS = """
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ObservedTimestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
"""

NODE_ROLLUP_SELECT = """
    SELECT
        toStartOfMinute(Timestamp) AS Minute, ServiceName, WorkflowName, NodeId,
        anyIf(NodeType, FlowscopeKind = 'node') AS NodeType,
        anyLastIf(NodeTitle, FlowscopeKind = 'node') AS NodeTitle,
        toUInt64(countIf(FlowscopeKind = 'node')) AS Spans,
        toUInt64(sumIf(AdjustedCount, FlowscopeKind = 'node')) AS Count,
        toUInt64(sumIf(AdjustedCount, FlowscopeKind = 'node' AND StatusCode = 'Error')) AS Errors,
        toUInt64(sumIf(InputTokens * AdjustedCount, FlowscopeKind = 'llm')) AS InputTokens,
        toUInt64(sumIf(OutputTokens * AdjustedCount, FlowscopeKind = 'llm')) AS OutputTokens,
        sumIf(CostUsd * AdjustedCount, FlowscopeKind = 'llm') AS CostUsd,
        quantilesTDigestWeightedStateIf(0.5, 0.95, 0.99)(
            Duration, AdjustedCount, FlowscopeKind = 'node') AS Latency
    FROM {source}
    WHERE NodeId != ''
    GROUP BY Minute, ServiceName, WorkflowName, NodeId
"""


NODE_ROLLUP_HOURLY_SELECT = """
    SELECT
        toStartOfHour(Minute) AS Hour, ServiceName, WorkflowName, NodeId,
        anyIf(NodeType, NodeType != '') AS NodeType,
        anyLastIf(NodeTitle, NodeTitle != '') AS NodeTitle,
        sum(Spans) AS Spans, sum(Count) AS Count, sum(Errors) AS Errors,
        sum(InputTokens) AS InputTokens, sum(OutputTokens) AS OutputTokens,
        sum(CostUsd) AS CostUsd,
        quantilesTDigestWeightedMergeState(0.5, 0.95, 0.99)(Latency) AS Latency
    FROM {source}
    GROUP BY Hour, ServiceName, WorkflowName, NodeId
"""


@dataclass(frozen=True)
class Table:
    name: str
    columns: str
    engine: str  # MergeTree family name without "Replicated"
    order_by: str
    partition_by: str | None = None
    ttl_column: str | None = None
    shard_key: str = "rand()"
    version: int = 1  # the migration that creates it
    granularity: int = 8192
    retired: int | None = None  # the migration that stops feeding it
    primary_key: str | None = None  # None: the sort key


@dataclass(frozen=True)
class View:
    name: str
    target: str
    select: str  # with {source} standing for the table it reads
    source: str = TRACES
    version: int = 1
    retired: int | None = None  # the migration that drops it


TABLES = (
    Table(
        TRACES,
        SPAN_COLUMNS,
        "MergeTree",
        "(ServiceName, SpanName, toDateTime(Timestamp))",
        "toDate(Timestamp)",
        "Timestamp",
        "cityHash64(TraceId)",
        # a trace's spans sit in several granules (the sort key starts with the span name):
        # small granules keep a trace lookup from decompressing 8192-row blocks of maps
        granularity=1024,
    ),
    Table(
        TRACE_ID_TS,
        TRACE_ID_TS_COLUMNS,
        "MergeTree",
        "(TraceId, Start)",
        "toDate(Start)",
        "Start",
        "cityHash64(TraceId)",
    ),
    Table(
        NODE_ROLLUP_V1,
        NODE_ROLLUP_COLUMNS.format(bucket="Minute"),
        "AggregatingMergeTree",
        "(WorkflowName, NodeId, ServiceName, NodeType, Minute)",
        "toYYYYMM(Minute)",
        "Minute",
        "cityHash64(WorkflowName, NodeId)",
        retired=3,
    ),
    Table(
        NODE_ROLLUP_HOURLY_V2,
        NODE_ROLLUP_COLUMNS.format(bucket="Hour"),
        "AggregatingMergeTree",
        "(WorkflowName, NodeId, ServiceName, NodeType, Hour)",
        "toYYYYMM(Hour)",
        "Hour",
        "cityHash64(WorkflowName, NodeId)",
        version=2,
        retired=3,
    ),
    # Time bucket first, so a window reads only its own rows (the minute rollup is read for the
    # partial hours at a window's ends, the hourly one for the whole hours). Small granules: each
    # row holds a t-digest state, and a read deserializes every state of each granule it touches.
    Table(
        NODE_ROLLUP,
        NODE_ROLLUP_COLUMNS.format(bucket="Minute"),
        "AggregatingMergeTree",
        "(Minute, WorkflowName, ServiceName, NodeId, NodeType)",
        "toYYYYMM(Minute)",
        "Minute",
        "cityHash64(WorkflowName, NodeId)",
        version=3,
        granularity=256,
    ),
    Table(
        NODE_ROLLUP_HOURLY,
        NODE_ROLLUP_COLUMNS.format(bucket="Hour"),
        "AggregatingMergeTree",
        "(Hour, WorkflowName, ServiceName, NodeId, NodeType)",
        "toYYYYMM(Hour)",
        "Hour",
        "cityHash64(WorkflowName, NodeId)",
        version=3,
        granularity=256,
    ),
    Table(
        USAGE,
        USAGE_COLUMNS,
        "MergeTree",
        "(ServiceName, MetricName, Timestamp)",
        "toDate(Timestamp)",
        "Timestamp",
        "cityHash64(ServiceInstance)",
    ),
    Table(
        LOGS,
        LOG_COLUMNS,
        "MergeTree",
        "(ServiceName, TimestampTime, Timestamp)",
        "toDate(TimestampTime)",
        "TimestampTime",
        "cityHash64(TraceId)",
        version=5,
        primary_key="(ServiceName, TimestampTime)",
    ),
)

VIEWS = (
    View(
        f"{TRACE_ID_TS}_mv",
        TRACE_ID_TS,
        "SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End FROM {source} "
        "WHERE TraceId != '' GROUP BY TraceId",
    ),
    View(f"{NODE_ROLLUP_V1}_mv", NODE_ROLLUP_V1, NODE_ROLLUP_SELECT, retired=3),
    View(
        f"{NODE_ROLLUP_HOURLY_V2}_mv",
        NODE_ROLLUP_HOURLY_V2,
        NODE_ROLLUP_HOURLY_SELECT,
        source=NODE_ROLLUP_V1,
        version=2,
        retired=3,
    ),
    View(f"{NODE_ROLLUP}_mv", NODE_ROLLUP, NODE_ROLLUP_SELECT, version=3),
    View(
        f"{NODE_ROLLUP_HOURLY}_mv",
        NODE_ROLLUP_HOURLY,
        NODE_ROLLUP_HOURLY_SELECT,
        source=NODE_ROLLUP,
        version=3,
    ),
)

# A second copy of the columns a trace view reads, sorted by trace id (migration 4). The exporter's
# sort key scatters a trace over one granule per span name; through this projection ClickHouse
# reads one granule per part for ``TraceId = x`` (and ``IN``). Costs disk and insert time.
TRACE_PROJECTION = "by_trace_id"
TRACE_PROJECTION_COLUMNS = (
    "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, "
    "ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, "
    "StatusMessage, Events.Timestamp, Events.Name, Events.Attributes, Links.TraceId, "
    "Links.SpanId, Links.TraceState, Links.Attributes, CostUsd, CostSource"
)


# Inserts carry a deduplication token per spool batch; a non-replicated table keeps the window.
DEDUP_SETTINGS = "non_replicated_deduplication_window = 10000"


def _table_ddl(table: Table, *, ttl_days: int, cluster: str | None) -> list[str]:
    local = f"{table.name}_local" if cluster else table.name
    on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
    if cluster:
        engine = (
            f"Replicated{table.engine}('/clickhouse/tables/{{shard}}/{{database}}/{local}', "
            "'{replica}')"
        )
        settings = f"index_granularity = {table.granularity}, ttl_only_drop_parts = 1"
    else:
        engine = f"{table.engine}()"
        settings = (
            f"index_granularity = {table.granularity}, ttl_only_drop_parts = 1, {DEDUP_SETTINGS}"
        )
    parts = [
        f"CREATE TABLE IF NOT EXISTS {local}{on_cluster} ({table.columns})",
        f"ENGINE = {engine}",
    ]
    if table.partition_by:
        parts.append(f"PARTITION BY {table.partition_by}")
    if table.primary_key:
        parts.append(f"PRIMARY KEY {table.primary_key}")
    parts.append(f"ORDER BY {table.order_by}")
    if ttl_days > 0 and table.ttl_column:
        parts.append(f"TTL toDateTime({table.ttl_column}) + toIntervalDay({ttl_days})")
    parts.append(f"SETTINGS {settings}")
    statements = ["\n".join(parts)]
    if cluster:
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {table.name}{on_cluster} AS {local}\n"
            f"ENGINE = Distributed({cluster}, currentDatabase(), {local}, {table.shard_key})"
        )
    return statements


def _view_ddl(view: View, *, cluster: str | None) -> str:
    suffix = "_local" if cluster else ""
    on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
    select = view.select.format(source=f"{view.source}{suffix}")
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view.name}{on_cluster} "
        f"TO {view.target}{suffix} AS {select.strip()}"
    )


def _wanted(obj: Table | View, version: int | None) -> bool:
    """Created by migration ``version``; None: part of the current schema (not retired)."""
    return obj.retired is None if version is None else obj.version == version


def _tables_ddl(*, ttl_days: int, cluster: str | None, version: int | None) -> list[str]:
    statements: list[str] = []
    for table in TABLES:
        if _wanted(table, version):
            statements.extend(_table_ddl(table, ttl_days=ttl_days, cluster=cluster))
    return statements


def _views_ddl(*, cluster: str | None, version: int | None) -> list[str]:
    return [_view_ddl(view, cluster=cluster) for view in VIEWS if _wanted(view, version)]


def render_ddl(
    *, ttl_days: int = 0, cluster: str | None = None, version: int | None = None
) -> list[str]:
    """CREATE statements in dependency order, for one node or ``ON CLUSTER cluster``.

    ``version`` limits them to what that migration creates; None renders the current schema
    (without what a later migration retired, with the trace-id projection).
    """
    return [
        *_tables_ddl(ttl_days=ttl_days, cluster=cluster, version=version),
        *_views_ddl(cluster=cluster, version=version),
        *(_trace_projection(cluster)[:1] if version is None else ()),
    ]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


def _backfill(target: str, select: str, cluster: str | None) -> str:
    """``INSERT INTO target select`` once: only while ``target`` is still empty, so re-running
    the migration (or running it on a second replica) adds nothing."""
    suffix = "_local" if cluster else ""
    guard = f"(SELECT count() FROM {target}{suffix}) = 0"
    select = select.replace("    GROUP BY ", f"    WHERE {guard}\n    GROUP BY ", 1)
    return f"INSERT INTO {target}{suffix} {select.strip()}"


def _hourly_backfill(cluster: str | None) -> str:
    """Fill the hourly rollup from the minute rollup once (a store created before version 2)."""
    suffix = "_local" if cluster else ""
    select = NODE_ROLLUP_HOURLY_SELECT.format(source=f"{NODE_ROLLUP_V1}{suffix}")
    return _backfill(NODE_ROLLUP_HOURLY_V2, select, cluster)


def _copy_rollup(source: str, target: str, bucket: str, cluster: str | None) -> str:
    """Carry a rollup's rows (states as they are) into its time-keyed successor, once."""
    suffix = "_local" if cluster else ""
    keys = f"{bucket}, ServiceName, WorkflowName, NodeId, NodeType"
    select = (
        f"SELECT {keys}, anyLastIf(NodeTitle, NodeTitle != '') AS NodeTitle, sum(Spans) AS Spans, "
        "sum(Count) AS Count, sum(Errors) AS Errors, sum(InputTokens) AS InputTokens, "
        "sum(OutputTokens) AS OutputTokens, sum(CostUsd) AS CostUsd, "
        "quantilesTDigestWeightedMergeState(0.5, 0.95, 0.99)(Latency) AS Latency\n"
        f"    FROM {source}{suffix}\n    GROUP BY {keys}"
    )
    return _backfill(target, select, cluster)


def _time_keyed_rollups(*, ttl_days: int, cluster: str | None) -> tuple[str, ...]:
    """Migration 3: new tables, copy the old rollups, then switch the views over."""
    on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
    drops = [f"DROP VIEW IF EXISTS {view.name}{on_cluster}" for view in VIEWS if view.retired == 3]
    return (
        *_tables_ddl(ttl_days=ttl_days, cluster=cluster, version=3),
        _copy_rollup(NODE_ROLLUP_V1, NODE_ROLLUP, "Minute", cluster),
        _copy_rollup(NODE_ROLLUP_HOURLY_V2, NODE_ROLLUP_HOURLY, "Hour", cluster),
        *_views_ddl(cluster=cluster, version=3),
        *drops,
    )


def _trace_projection(cluster: str | None) -> tuple[str, ...]:
    """Migration 4: the projection, built for existing parts by a background mutation."""
    table = f"{TRACES}_local ON CLUSTER {cluster}" if cluster else TRACES
    return (
        f"ALTER TABLE {table} ADD PROJECTION IF NOT EXISTS {TRACE_PROJECTION} "
        f"(SELECT {TRACE_PROJECTION_COLUMNS} ORDER BY TraceId)",
        f"ALTER TABLE {table} MATERIALIZE PROJECTION {TRACE_PROJECTION}",
    )


def migrations(*, ttl_days: int = 0, cluster: str | None = None) -> list[Migration]:
    """Versioned migrations; each statement is idempotent so a migration can be re-run."""
    return [
        Migration(
            1,
            "otel_traces, trace id lookup, node rollup, usage metrics",
            tuple(render_ddl(ttl_days=ttl_days, cluster=cluster, version=1)),
        ),
        Migration(
            2,
            "hourly node rollup (fed by the minute rollup), backfilled",
            (*render_ddl(ttl_days=ttl_days, cluster=cluster, version=2), _hourly_backfill(cluster)),
        ),
        Migration(
            3,
            "node rollups keyed time bucket first (by_minute, by_hour), copied from 1m/1h",
            _time_keyed_rollups(ttl_days=ttl_days, cluster=cluster),
        ),
        Migration(
            4,
            f"otel_traces projection {TRACE_PROJECTION} (sorted by TraceId) for trace lookups",
            _trace_projection(cluster),
        ),
        Migration(
            5,
            f"{LOGS} (OTLP log records, the exporter's schema)",
            tuple(render_ddl(ttl_days=ttl_days, cluster=cluster, version=5)),
        ),
    ]


def migrations_table_ddl(cluster: str | None = None) -> str:
    on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
    engine = (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/"
        f"{MIGRATIONS}', '{{replica}}')"
        if cluster
        else "ReplacingMergeTree()"
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS}{on_cluster} "
        "(Version UInt32, Description String, AppliedAt DateTime DEFAULT now()) "
        f"ENGINE = {engine} ORDER BY Version"
    )
