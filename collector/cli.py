"""``flowscope collector``, ``flowscope schema`` and ``flowscope reprice`` sub-commands.

Registered through the ``flowscope.commands`` entry-point group; heavy imports happen inside
the command functions, not at registration time.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "collector",
        help="run the OTLP/HTTP collector and read API",
        description="Receive OTLP/HTTP spans and metrics, spool them durably and store them in "
        "ClickHouse (embedded chDB by default); serve the read API.",
    )
    parser.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 4318)")
    parser.add_argument(
        "--store",
        default=None,
        help="store DSN: chdb:///path or clickhouse://user:pass@host:8123/db "
        "(overrides FLOWSCOPE_STORE; default chdb://<cwd>/.flowscope/chdb)",
    )
    parser.add_argument(
        "--spool-dir",
        type=Path,
        default=None,
        help="spool directory (overrides FLOWSCOPE_SPOOL_DIR)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="run store URL for /api/runs (overrides FLOWSCOPE_DATABASE_URL; default: off)",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.set_defaults(func=run_collector)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), force=True, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def run_collector(args: argparse.Namespace) -> int:
    from collector.errors import CollectorError
    from collector.settings import load_settings

    _configure_logging(args.log_level)
    try:
        settings = load_settings(
            host=args.host,
            port=args.port,
            store_dsn=args.store,
            spool_dir=args.spool_dir,
            database_url=args.database_url,
        )
        from collector.pricing import build_pricer

        build_pricer(settings.prices_file)  # fail fast on a bad price file
    except CollectorError as exc:
        print(f"flowscope collector: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    from collector.app import create_app

    logger.info(
        "collector on http://%s:%d, store %s, spool %s",
        settings.host,
        settings.port,
        settings.store_dsn.split("@")[-1],
        settings.spool_dir,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=args.log_level.lower(),
        access_log=False,
    )
    return 0


def register_schema(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("schema", help="print or apply the store's DDL")
    sub = parser.add_subparsers(dest="schema_command", required=True)
    show = sub.add_parser("print", help="print the DDL (single node or ON CLUSTER)")
    show.add_argument(
        "--cluster",
        default=None,
        help="render Replicated*MergeTree + Distributed tables ON CLUSTER NAME",
    )
    show.add_argument(
        "--ttl-days",
        type=int,
        default=None,
        help="TTL in days (default FLOWSCOPE_TTL_DAYS or none)",
    )
    show.set_defaults(func=print_schema)
    apply = sub.add_parser("migrate", help="apply pending migrations to the store")
    apply.add_argument("--store", default=None, help="store DSN (overrides FLOWSCOPE_STORE)")
    apply.set_defaults(func=migrate_schema)


def print_schema(args: argparse.Namespace) -> int:
    import os

    from collector.storage.schema import migrations_table_ddl, render_ddl

    ttl = (
        args.ttl_days
        if args.ttl_days is not None
        else int(os.environ.get("FLOWSCOPE_TTL_DAYS", "0") or 0)
    )
    statements = [
        migrations_table_ddl(args.cluster),
        *render_ddl(ttl_days=ttl, cluster=args.cluster),
    ]
    print(";\n\n".join(statements) + ";")
    return 0


def migrate_schema(args: argparse.Namespace) -> int:
    from collector.errors import CollectorError
    from collector.settings import load_settings
    from collector.storage.store import ClickHouseStore

    _configure_logging("INFO")
    try:
        settings = load_settings(store_dsn=args.store)
        store = ClickHouseStore(settings.store_dsn, ttl_days=settings.ttl_days)
        applied = store.migrate()
        store.close()
    except CollectorError as exc:
        print(f"flowscope schema migrate: {exc}", file=sys.stderr)
        return 2
    print(f"applied migrations: {applied or 'none (up to date)'}")
    return 0


def register_reprice(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "reprice", help="recompute stored LLM cost after a price change (backfill)"
    )
    parser.add_argument(
        "--since", required=True, help="ISO 8601 time or a duration like 7d / 12h / 30m"
    )
    parser.add_argument("--until", default=None, help="ISO 8601 time (default now)")
    parser.add_argument("--store", default=None, help="store DSN (overrides FLOWSCOPE_STORE)")
    parser.add_argument(
        "--prices-file",
        type=Path,
        default=None,
        help="YAML price file (overrides FLOWSCOPE_PRICES_FILE)",
    )
    parser.set_defaults(func=run_reprice)


def run_reprice(args: argparse.Namespace) -> int:
    from collector.errors import CollectorError
    from collector.reprice import parse_time, reprice
    from collector.settings import load_settings

    _configure_logging("INFO")
    try:
        since = parse_time(args.since, "--since")
        until = parse_time(args.until, "--until") if args.until else None
        settings = load_settings(store_dsn=args.store)
        prices = args.prices_file or settings.prices_file
        report = reprice(settings.store_dsn, since, until, prices)
    except CollectorError as exc:
        print(f"flowscope reprice: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0
