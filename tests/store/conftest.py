"""One suite, three databases: SQLite, a real PostgreSQL and a real MariaDB/MySQL on loopback.

Each test gets a namespace of its own (a SQLite file, a PostgreSQL schema, a MariaDB database)
that is dropped afterwards, so parallel runs never collide. Servers default to the machine's
(``make services`` starts them); ``FLOWSCOPE_TEST_POSTGRES_URL`` / ``FLOWSCOPE_TEST_MYSQL_URL``
point elsewhere. A missing server skips its tests on a laptop and FAILS them when ``CI=true``.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from workflow_core.store import migrate
from workflow_core.store.database import create_store_engine

POSTGRES_URL = os.environ.get(
    "FLOWSCOPE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("FLOWSCOPE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
DIALECTS = ("sqlite", "postgresql", "mysql")
SERVER_DIALECTS = ("postgresql", "mysql")


@functools.cache
def _server_problem(dialect: str) -> str | None:
    url = POSTGRES_URL if dialect == "postgresql" else MYSQL_URL
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{make_url(url).render_as_string(hide_password=True)}: {exc}"
    finally:
        engine.dispose()
    return None


def require_server(dialect: str) -> None:
    """Skip (laptop) or fail (CI=true) when the server of ``dialect`` does not answer."""
    problem = _server_problem(dialect)
    if problem is None:
        return
    message = f"{dialect} server needed by the run store tests is not reachable: {problem}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: run `make services`)")
    pytest.skip(f"{message}; run `make services`")


@functools.cache
def _admin_engine(dialect: str) -> Engine:
    url = POSTGRES_URL if dialect == "postgresql" else MYSQL_URL
    return create_engine(url, isolation_level="AUTOCOMMIT")


def isolated_url(dialect: str, tmp_path: Path) -> Iterator[URL]:
    """A database URL nobody else uses; its schema / database is dropped afterwards."""
    if dialect == "sqlite":
        yield URL.create("sqlite", database=str(tmp_path / "runs.db"))
        return
    require_server(dialect)
    name = f"fs_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(dialect)
    if dialect == "postgresql":
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={name}"})
        drop = f'DROP SCHEMA IF EXISTS "{name}" CASCADE'
    else:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        url = make_url(MYSQL_URL).set(database=name)
        drop = f"DROP DATABASE IF EXISTS `{name}`"
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(drop))


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=SERVER_DIALECTS)
def server_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """Like ``db_url``, for the server dialects only."""
    yield from isolated_url(str(request.param), tmp_path)


@pytest.fixture
def db_url(dialect: str, tmp_path: Path) -> Iterator[URL]:
    yield from isolated_url(dialect, tmp_path)


@pytest.fixture
def empty_engine(db_url: URL) -> Iterator[Engine]:
    engine = create_store_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """An engine on a database migrated to head."""
    migrate.upgrade(empty_engine)
    return empty_engine
