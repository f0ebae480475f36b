"""Fixtures for the trigger service: a config around the support example, a run store, a queue.

Databases: a SQLite file per test; the lease / idempotency tests also run on the real
PostgreSQL (``FLOWSCOPE_TEST_POSTGRES_URL``, default 127.0.0.1:5432 db ``test``) in a schema of
their own, dropped afterwards. A missing server skips on a laptop and FAILS under ``CI=true``.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))

from triggers_support import open_store, write_config

from workflow_core.store.sql_store import SqlRunStore
from workflow_core.store.triggers import TriggerEventQueue
from workflow_core.triggers.config import TriggersConfig, load_config

POSTGRES_URL = os.environ.get(
    "FLOWSCOPE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_url() -> Iterator[str]:
    engine = create_engine(
        POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    name = f"trig_{uuid.uuid4().hex[:12]}"
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
    except Exception as exc:
        engine.dispose()
        message = f"PostgreSQL at {POSTGRES_URL} is needed by the trigger lease tests: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true)")
        pytest.skip(message)
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh run-store URL on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.db'}"
    else:
        yield from _postgres_url()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[SqlRunStore]:
    s = open_store(db_url)
    yield s
    s.engine.dispose()


@pytest.fixture
def queue(store: SqlRunStore) -> TriggerEventQueue:
    return TriggerEventQueue(store.engine)


@pytest.fixture
def config(tmp_path: Path) -> TriggersConfig:
    return load_config(write_config(tmp_path), {})
