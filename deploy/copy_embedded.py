"""Copy an embedded (chDB) flowscope store into a ClickHouse server, once, when moving to one.

    python deploy/copy_embedded.py /path/to/.flowscope/chdb clickhouse://user:pass@host:8123/flowscope

Stop the collector that owns the chDB directory first (chDB is one process). The server's
collector must have started once (it creates the tables), or run ``flowscope schema migrate
--store DSN``. Spans (``otel_traces``), usage points (``flowscope_usage``) and log records
(``otel_logs``) are copied one daily partition at a time in ClickHouse's Native format; the
server's materialized views rebuild the trace-id lookup and the node rollups from the copied
spans, and the materialized columns are recomputed. Each partition is inserted with its own
deduplication token, so re-running the copy after an interruption does not duplicate what was
already copied (within the server's deduplication window).
"""

from __future__ import annotations

import sys
from typing import Any

COPIED = ("otel_traces", "flowscope_usage", "otel_logs")


def copy(chdb_dir: str, dsn: str) -> dict[str, int]:
    import chdb
    import clickhouse_connect

    source: Any = chdb.connect(chdb_dir)
    target: Any = clickhouse_connect.get_client(dsn=dsn)
    copied: dict[str, int] = {}
    try:
        for table in COPIED:
            partitions = source.query(
                "SELECT DISTINCT partition FROM system.parts "
                f"WHERE active AND database = currentDatabase() AND table = '{table}' "
                "ORDER BY partition",
                "CSV",
            )
            rows = 0
            for line in partitions.bytes().decode().split():
                partition = line.strip('"')
                where = f"toDate(Timestamp) = toDate('{partition}')"
                block = source.query(f"SELECT * FROM {table} WHERE {where}", "Native").bytes()
                count = source.query(f"SELECT count() FROM {table} WHERE {where}", "CSV")
                target.raw_insert(
                    table,
                    insert_block=block,
                    fmt="Native",
                    settings={"insert_deduplication_token": f"copy:{table}:{partition}"},
                )
                rows += int(count.bytes().decode().strip())
            copied[table] = rows
    finally:
        source.close()
        target.close()
    return copied


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for table, rows in copy(argv[0], argv[1]).items():
        print(f"copy_embedded: {table}: {rows} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
