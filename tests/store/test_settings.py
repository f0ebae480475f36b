"""Which database the store opens, and what happens on first use."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from workflow_core.dsl import load_app
from workflow_core.runner import WorkflowRunner
from workflow_core.store import migrate
from workflow_core.store.base import RunStore
from workflow_core.store.database import resolve_database_url
from workflow_core.store.errors import MigrationError, StoreConfigError, StoreError
from workflow_core.store.queries import RunHistory
from workflow_core.store.settings import DEFAULT_MAX_PAYLOAD_BYTES, StoreSettings
from workflow_core.store.sql_store import SqlRunStore, open_for_app


def test_default_is_a_sqlite_file_under_dot_flowscope(tmp_path: Path) -> None:
    url = resolve_database_url(environ={}, base_dir=tmp_path)
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(tmp_path / ".flowscope" / "runs.db")


def test_argument_beats_environment_beats_default() -> None:
    env = {"FLOWSCOPE_DATABASE_URL": "postgresql+psycopg://u@db:5432/runs"}
    assert resolve_database_url(environ=env).get_backend_name() == "postgresql"
    explicit = resolve_database_url("mysql+pymysql://root@127.0.0.1/x", environ=env)
    assert explicit.drivername == "mysql+pymysql"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not a url", "FLOWSCOPE_DATABASE_URL: not a database URL"),
        ("oracle://scott@db/orcl", "database 'oracle' is not supported"),
    ],
)
def test_bad_database_urls_are_named(raw: str, message: str) -> None:
    with pytest.raises(StoreConfigError, match=message):
        resolve_database_url(environ={"FLOWSCOPE_DATABASE_URL": raw})


def test_store_settings_come_from_arguments_then_environment() -> None:
    env = {
        "FLOWSCOPE_STORE_MAX_PAYLOAD_BYTES": "4096",
        "FLOWSCOPE_REDACT_PATTERNS": '["ACME-\\\\d+"]',
        "FLOWSCOPE_DB_AUTO_MIGRATE": "false",
    }
    settings = StoreSettings.load(env)
    assert (settings.max_payload_bytes, settings.redact_patterns) == (4096, ("ACME-\\d+",))
    assert settings.migrates_itself is False
    assert StoreSettings.load(env, max_payload_bytes=1024).max_payload_bytes == 1024
    assert StoreSettings.load({}).max_payload_bytes == DEFAULT_MAX_PAYLOAD_BYTES
    assert StoreSettings.load({}).migrates_itself is True  # SQLite by default
    with pytest.raises(
        StoreConfigError, match="FLOWSCOPE_STORE_MAX_PAYLOAD_BYTES must be an integer"
    ):
        StoreSettings.load({"FLOWSCOPE_STORE_MAX_PAYLOAD_BYTES": "lots"})
    with pytest.raises(StoreConfigError, match="at least 256, got 10"):
        StoreSettings.load({}, max_payload_bytes=10)
    with pytest.raises(StoreConfigError, match="FLOWSCOPE_DB_AUTO_MIGRATE must be true or false"):
        StoreSettings.load({"FLOWSCOPE_DB_AUTO_MIGRATE": "maybe"})


def test_first_use_of_sqlite_creates_and_migrates_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWSCOPE_DATABASE_URL", raising=False)
    with SqlRunStore.open() as store:
        assert migrate.current_revision(store.engine) == migrate.head_revision()
    assert (tmp_path / ".flowscope" / "runs.db").is_file()
    with SqlRunStore.open() as again:  # second use: already at head, nothing to do
        assert migrate.current_revision(again.engine) == migrate.head_revision()


def test_a_server_database_is_never_migrated_behind_the_admins_back(server_url: URL) -> None:
    url = server_url.render_as_string(hide_password=False)
    with pytest.raises(
        MigrationError, match=r"schema is at revision \(empty\).*flowscope db upgrade"
    ):
        SqlRunStore.open(url)
    settings = StoreSettings.load({"FLOWSCOPE_DB_AUTO_MIGRATE": "true"}, database_url=url)
    with SqlRunStore.open(settings=settings) as store:
        assert migrate.current_revision(store.engine) == migrate.head_revision()


def test_open_for_app_is_the_one_line_wiring_of_flowscope_run(db_url: URL) -> None:
    app = load_app(Path(__file__).resolve().parents[3] / "shared/dify-dsl/json-repair.yml")
    environ = {"FLOWSCOPE_DATABASE_URL": db_url.render_as_string(hide_password=False)}
    if db_url.get_backend_name() != "sqlite":
        environ["FLOWSCOPE_DB_AUTO_MIGRATE"] = "1"
    store: RunStore = open_for_app(app, environ=environ)
    try:
        runner = WorkflowRunner(app, listeners=[store], conversation_store=store)
        result = runner.run({"llm_string": "{'a': 1,"})
        detail = RunHistory(store.engine).get_run(result.run_id)  # type: ignore[attr-defined]
    finally:
        store.close()
    assert detail.run.status == result.status
    assert detail.run.workflow_name == "json-repair"
    assert [n.node_type for n in detail.nodes] == [r.node_type for r in result.node_results]


def test_an_unreachable_server_is_named_without_its_password() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://postgres:hunter22@127.0.0.1:{port}/test"
    with pytest.raises(
        StoreError, match=f"postgres:\\*\\*\\*@127.0.0.1:{port}/test: cannot read"
    ) as caught:
        SqlRunStore.open(url)
    assert "hunter22" not in str(caught.value)
