"""``flowscope db``: migrate the run store's database (``upgrade``, ``downgrade``, ``current``,
``check``). Registered through the ``flowscope.commands`` entry-point group.

Exit codes: 0 done; 1 the schema is behind or drifted, or a migration failed; 2 bad settings.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "db",
        help="migrate the run store database (FLOWSCOPE_DATABASE_URL)",
        description=__doc__,
    )
    parser.add_argument(
        "--url",
        default=None,
        help="database URL (default: $FLOWSCOPE_DATABASE_URL, else .flowscope/runs.db)",
    )
    actions = parser.add_subparsers(dest="db_action", required=True)
    up = actions.add_parser("upgrade", help="migrate up (default: to the newest revision)")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    down = actions.add_parser("downgrade", help="migrate down; 'base' drops every store table")
    down.add_argument("revision", help="target revision, e.g. -1 or base")
    actions.add_parser("current", help="print the database's revision and the newest one")
    actions.add_parser("check", help="fail if the models and the migrated schema differ")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workflow_core.store import migrate
    from workflow_core.store.database import create_store_engine, describe
    from workflow_core.store.errors import StoreConfigError, StoreError

    try:
        engine = create_store_engine(args.url)
    except StoreConfigError as exc:
        print(f"flowscope db: {exc}", file=sys.stderr)
        return 2
    where = describe(engine)
    try:
        action = args.db_action
        if action == "upgrade" and args.sql:
            sys.stdout.write(migrate.render_sql(engine, args.revision))
        elif action == "upgrade":
            migrate.upgrade(engine, args.revision)
            print(f"{where}: at revision {migrate.current_revision(engine)}")
        elif action == "downgrade":
            migrate.downgrade(engine, args.revision)
            print(f"{where}: at revision {migrate.current_revision(engine) or '(empty)'}")
        elif action == "current":
            current, head = migrate.current_revision(engine), migrate.head_revision()
            state = "up to date" if current == head else "behind: run flowscope db upgrade"
            print(f"{where}: revision {current or '(empty)'}, newest {head} ({state})")
            return 0 if current == head else 1
        else:
            migrate.require_schema(engine)
            migrate.check(engine)
            print(f"{where}: schema matches the models")
    except StoreError as exc:  # migration failed, schema behind or drifted, server unreachable
        print(f"flowscope db {args.db_action}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0
