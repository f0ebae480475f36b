"""Which database the run store uses, and how to connect to it.

``FLOWSCOPE_DATABASE_URL`` picks the database (an explicit argument wins):

- default: a SQLite file, ``.flowscope/runs.db`` under the working directory;
- ``postgresql+psycopg://user:pass@host:5432/db``;
- ``mysql+pymysql://user:pass@host:3306/db`` for MySQL 8 and MariaDB (``mariadb+pymysql://``
  works too); OceanBase is used through its MySQL mode with the same URL form.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from workflow_core.store.errors import StoreConfigError

logger = logging.getLogger(__name__)

ENV_DATABASE_URL = "FLOWSCOPE_DATABASE_URL"
DEFAULT_SQLITE_PATH = Path(".flowscope") / "runs.db"
SUPPORTED_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")
SQLITE_BEGIN_OPTION = "flowscope_sqlite_begin"
"""Execution option: ``"IMMEDIATE"`` makes a SQLite transaction take the write lock up front."""


def resolve_database_url(
    url: str | URL | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> URL:
    """The store's URL: ``url`` > ``$FLOWSCOPE_DATABASE_URL`` > ``sqlite:///.flowscope/runs.db``."""
    env = os.environ if environ is None else environ
    source = "argument"
    raw: str | URL | None = url
    if raw is None or raw == "":
        raw, source = env.get(ENV_DATABASE_URL) or None, ENV_DATABASE_URL
    if raw is None:
        path = (base_dir or Path.cwd()) / DEFAULT_SQLITE_PATH
        return URL.create("sqlite", database=str(path))
    try:
        parsed = make_url(raw)
    except ArgumentError as exc:
        raise StoreConfigError(
            f"{source}: not a database URL ({exc}); expected e.g. "
            "postgresql+psycopg://user@127.0.0.1:5432/db or mysql+pymysql://root@127.0.0.1/db"
        ) from exc
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise StoreConfigError(
            f"{source}: database '{backend}' is not supported by the run store; "
            f"expected one of {', '.join(SUPPORTED_BACKENDS)}"
        )
    return parsed


def create_store_engine(url: str | URL | None = None, **engine_kwargs: Any) -> Engine:
    """A SQLAlchemy engine for ``url`` (resolved as :func:`resolve_database_url` does).

    SQLite gets WAL, foreign keys and a busy timeout; MySQL/MariaDB get ``utf8mb4`` and READ
    COMMITTED (no gap locks between concurrent inserts); every server connection is pre-pinged.
    """
    resolved = resolve_database_url(url)
    backend = resolved.get_backend_name()
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "sqlite":
        _prepare_sqlite_file(resolved)
        # pysqlite's timeout is SQLite's busy timeout: writers wait for the lock up to 30 s.
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    elif backend in ("mysql", "mariadb"):
        if "charset" not in resolved.query:
            resolved = resolved.update_query_dict({"charset": "utf8mb4"})
        kwargs["isolation_level"] = "READ COMMITTED"
        kwargs["pool_recycle"] = 3600
    kwargs.update(engine_kwargs)
    try:
        engine = create_engine(resolved, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreConfigError(
            f"{ENV_DATABASE_URL}: no driver for '{resolved.drivername}' ({exc}); install the "
            "store extra: pip install 'flowscope[store]'"
        ) from exc
    if backend == "sqlite":
        _configure_sqlite(engine)
    logger.debug("run store database: %s", resolved.render_as_string(hide_password=True))
    return engine


def _prepare_sqlite_file(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    """WAL + foreign keys, and transactions that SQLAlchemy (not pysqlite) begins.

    pysqlite's own transaction handling begins lazily and never for DDL; taking it over (the
    SQLAlchemy documented recipe) makes migrations transactional and lets writers ask for
    ``BEGIN IMMEDIATE`` so concurrent writers wait on the busy timeout instead of failing.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {'IMMEDIATE' if mode == 'IMMEDIATE' else 'DEFERRED'}")


def describe(engine: Engine) -> str:
    """The engine's URL without its password (for messages and logs)."""
    return engine.url.render_as_string(hide_password=True)
