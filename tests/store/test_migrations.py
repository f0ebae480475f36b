"""Migrations on every dialect: empty → head → base → head, and no drift against the models."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect

from workflow_core.store import migrate
from workflow_core.store.errors import MigrationError
from workflow_core.store.models import Base

STORE_TABLES = set(Base.metadata.tables)


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade_round_trip(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None
    assert _tables(empty_engine) == set()

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert _tables(empty_engine) == STORE_TABLES

    migrate.downgrade(empty_engine)
    assert migrate.current_revision(empty_engine) is None
    assert _tables(empty_engine) == set()

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert _tables(empty_engine) == STORE_TABLES


def test_alembic_check_finds_no_drift_between_models_and_migrations(engine: Engine) -> None:
    migrate.check(engine)  # raises MigrationError on any difference


def test_check_reports_drift_when_a_table_is_missing(engine: Engine) -> None:
    with engine.begin() as connection:
        Base.metadata.tables["conversations"].drop(connection)
    with pytest.raises(MigrationError, match="drift"):
        migrate.check(engine)


def test_require_schema_names_the_command_to_run(empty_engine: Engine) -> None:
    with pytest.raises(MigrationError, match="flowscope db upgrade"):
        migrate.require_schema(empty_engine)


def test_offline_sql_renders_for_the_dialect(empty_engine: Engine) -> None:
    sql = migrate.render_sql(empty_engine)
    assert "CREATE TABLE node_executions" in sql
    assert "alembic_version" in sql
