"""Create flowscope's schema ON CLUSTER before the collectors start (compose ``cluster`` profile).

    python deploy/cluster_schema.py CLUSTER DSN [DSN ...]

Give one DSN per shard (any replica of it). The first run creates every table ``ON CLUSTER``
(``Replicated*MergeTree`` ``*_local`` tables + ``Distributed`` tables, see ``flowscope schema print
--cluster CLUSTER``); each shard's ``flowscope_schema_migrations`` (replicated within the shard)
then records the applied versions, so a collector started on any node finds its schema up to date
and creates nothing itself. Re-running is harmless (every statement is ``IF NOT EXISTS``): run it
again before starting collectors of a newer version to apply new migrations ON CLUSTER.
"""

from __future__ import annotations

import sys
import time

from collector.errors import CollectorError, StoreUnavailable
from collector.settings import load_settings
from collector.storage.store import ClickHouseStore


def migrate_shard(cluster: str, dsn: str, attempts: int = 60) -> list[int]:
    settings = load_settings(store_dsn=dsn)
    for attempt in range(1, attempts + 1):
        try:
            store = ClickHouseStore(settings.store_dsn, ttl_days=settings.ttl_days, cluster=cluster)
            try:
                return store.migrate()
            finally:
                store.close()
        except StoreUnavailable as exc:
            if attempt == attempts:
                raise
            print(f"cluster_schema: store not reachable yet ({exc}); retrying", file=sys.stderr)
            time.sleep(2)
    return []


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cluster, dsns = argv[0], argv[1:]
    for dsn in dsns:
        host = dsn.split("@")[-1]
        try:
            applied = migrate_shard(cluster, dsn)
        except CollectorError as exc:
            print(f"cluster_schema: {host}: {exc}", file=sys.stderr)
            return 1
        print(f"cluster_schema: {host}: applied {applied or 'nothing (up to date)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
