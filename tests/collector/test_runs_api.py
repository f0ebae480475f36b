"""Run history over HTTP: runs made by `flowscope run` read back through a real collector."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from collector_harness import FLOWSCOPE, CollectorProcess
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from collector.cli import register
from collector.settings import load_settings
from workflow_core.store import migrate
from workflow_core.store.database import create_store_engine

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "dify-dsl"
WORKFLOW = CORPUS / "SEO_Slug_Generator.yml"
POSTGRES_URL = os.environ.get(
    "FLOWSCOPE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def flowscope_run(database_url: str, title: str, cwd: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "FLOWSCOPE_DATABASE_URL": database_url,
        "FLOWSCOPE_LLM_PROVIDER": "simulated",
    }
    proc = subprocess.run(
        [FLOWSCOPE, "run", str(WORKFLOW), "--json", "--input", f"title={title}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def sqlite_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[CollectorProcess, list[str]]]:
    """Two runs written by `flowscope run` to SQLite, served by a collector with a read token."""
    work = Path(tmp_path_factory.mktemp("runs_api"))
    url = f"sqlite:///{work / 'runs.db'}"
    ids = [flowscope_run(url, t, work)["run_id"] for t in ("Run history", "A different title")]
    proc = CollectorProcess(
        work / "collector",
        env={"FLOWSCOPE_DATABASE_URL": url, "FLOWSCOPE_READ_TOKEN": "s3cret"},
    )
    proc.start(wait_store=False)
    try:
        yield proc, ids
    finally:
        proc.stop()


TOKEN = {"Authorization": "Bearer s3cret"}


def fetch(proc: CollectorProcess, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{proc.url}{path}", params=params, headers=TOKEN, timeout=30)


def get(proc: CollectorProcess, path: str, **params: Any) -> Any:
    response = fetch(proc, path, **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_runs_list_returns_stored_runs_newest_first_and_pages(sqlite_runs: Any) -> None:
    proc, ids = sqlite_runs
    body = get(proc, "/api/runs")
    assert [r["id"] for r in body["runs"]] == list(reversed(ids))
    assert body["next_cursor"] is None
    assert len({r["workflow_name"] for r in body["runs"]}) == 1
    assert all(r["status"] == "succeeded" and r["node_count"] == 3 for r in body["runs"])
    first = get(proc, "/api/runs", limit=1)
    assert [r["id"] for r in first["runs"]] == [ids[1]]
    second = get(proc, "/api/runs", limit=1, cursor=first["next_cursor"])
    assert [r["id"] for r in second["runs"]] == [ids[0]]
    workflow = body["runs"][0]["workflow_name"]
    assert len(get(proc, "/api/runs", workflow=workflow)["runs"]) == 2
    assert get(proc, "/api/runs", workflow="no such workflow")["runs"] == []
    assert get(proc, "/api/runs", status="failed")["runs"] == []
    assert get(proc, "/api/runs", since="2100-01-01T00:00:00Z")["runs"] == []


def test_run_detail_has_node_executions(sqlite_runs: Any) -> None:
    proc, ids = sqlite_runs
    detail = get(proc, f"/api/runs/{ids[0]}")
    assert detail["run"]["id"] == ids[0]
    assert [n["node_type"] for n in detail["nodes"]] == ["start", "llm", "end"]
    assert detail["inputs"]["title"] == "Run history"


def test_diff_pairs_nodes_with_inputs_and_deltas(sqlite_runs: Any) -> None:
    proc, ids = sqlite_runs
    diff = get(proc, "/api/runs/diff", a=ids[0], b=ids[1])
    assert [p["node_id"] for p in diff["pairs"]] == [
        n["node_id"] for n in get(proc, f"/api/runs/{ids[0]}")["nodes"]
    ]
    start = diff["pairs"][0]
    assert start["left"]["inputs"] != start["right"]["inputs"]
    for pair in diff["pairs"]:
        left, right = pair["left"], pair["right"]
        assert pair["deltas"]["elapsed_ms"] == pytest.approx(
            right["elapsed_ms"] - left["elapsed_ms"]
        )
        assert pair["deltas"]["input_tokens"] == right["input_tokens"] - left["input_tokens"]
    assert diff["deltas"]["output_tokens"] == (
        diff["right"]["output_tokens"] - diff["left"]["output_tokens"]
    )


def test_prompt_versions_listed_for_llm_node(sqlite_runs: Any) -> None:
    proc, ids = sqlite_runs
    workflow = get(proc, f"/api/runs/{ids[0]}")["run"]["workflow_name"]
    versions = get(proc, "/api/prompts", workflow=workflow)["versions"]
    assert len(versions) >= 1
    assert sum(v["runs"] for v in versions) >= 2
    assert get(proc, "/api/prompts", workflow="nope")["versions"] == []


def test_errors_are_specific(sqlite_runs: Any) -> None:
    proc, ids = sqlite_runs
    missing = fetch(proc, "/api/runs/not-a-run")
    assert missing.status_code == 404 and "not-a-run" in missing.json()["detail"]
    bad_cursor = fetch(proc, "/api/runs", cursor="garbage!")
    assert bad_cursor.status_code == 422 and "cursor" in bad_cursor.json()["detail"]
    assert fetch(proc, "/api/runs", limit=0).status_code == 422
    assert fetch(proc, "/api/runs/diff", a=ids[0]).status_code == 422
    unauthorised = proc.get("/api/runs")
    assert unauthorised.status_code == 401


def test_without_database_url_runs_answer_404_saying_how_to_enable(
    collector: CollectorProcess,
) -> None:
    response = collector.get("/api/runs")
    assert response.status_code == 404
    assert "--database-url" in response.json()["detail"]
    assert "FLOWSCOPE_DATABASE_URL" in response.json()["detail"]


def test_database_url_flag_overrides_env() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["collector", "--database-url", "sqlite:///flag.db"])
    env = {"FLOWSCOPE_DATABASE_URL": "sqlite:///env.db"}
    assert load_settings(database_url=args.database_url, env=env).database_url == (
        "sqlite:///flag.db"
    )
    assert load_settings(env=env).database_url == "sqlite:///env.db"
    assert load_settings(env={}).database_url is None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL schema of our own, migrated to head, dropped afterwards."""
    schema = f"fs_api_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_store_engine(url)
    try:
        migrate.upgrade(engine)
        engine.dispose()
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_runs_api_reads_a_postgresql_run_store(postgres_url: str, tmp_path: Path) -> None:
    run_id = flowscope_run(postgres_url, "On PostgreSQL", tmp_path)["run_id"]
    proc = CollectorProcess(tmp_path / "collector", env={"FLOWSCOPE_DATABASE_URL": postgres_url})
    proc.start(wait_store=False)
    try:
        listed = proc.get("/api/runs").json()
        assert [r["id"] for r in listed["runs"]] == [run_id]
        detail = proc.get(f"/api/runs/{run_id}").json()
        assert [n["node_type"] for n in detail["nodes"]] == ["start", "llm", "end"]
    finally:
        proc.stop()
