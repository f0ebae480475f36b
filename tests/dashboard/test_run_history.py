"""The Run history page under AppTest against a real collector serving a real run store."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from known_store import BIN, free_port, running, wait_http  # type: ignore[import-not-found]
from streamlit.testing.v1 import AppTest

from dashboard.ui import fmt_usd

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
WORKFLOW = Path(__file__).resolve().parents[3] / "shared" / "dify-dsl" / "SEO_Slug_Generator.yml"
TITLES = ("Run history in the dashboard", "Something else entirely")


def flowscope_run(url: str, title: str, cwd: Path) -> str:
    env = {**os.environ, "FLOWSCOPE_DATABASE_URL": url, "FLOWSCOPE_LLM_PROVIDER": "simulated"}
    proc = subprocess.run(
        [str(BIN / "flowscope"), "run", str(WORKFLOW), "--json", "--input", f"title={title}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr
    return str(json.loads(proc.stdout.strip().splitlines()[-1])["run_id"])


@pytest.fixture(scope="module")
def history_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """Two stored runs, served by `flowscope collector --database-url`."""
    tmp = Path(tmp_path_factory.mktemp("history"))
    db = f"sqlite:///{tmp / 'runs.db'}"
    ids = [flowscope_run(db, title, tmp) for title in TITLES]
    port = free_port()
    argv = [
        str(BIN / "flowscope"),
        "collector",
        "--port",
        str(port),
        "--store",
        f"chdb://{tmp / 'chdb'}",
        "--spool-dir",
        str(tmp / "spool"),
        "--database-url",
        db,
    ]
    with running(argv, tmp / "collector.log", {"FLOWSCOPE_SPOOL_FSYNC": "false"}) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/api/runs", proc, "collector run history")
        yield url, ids


def open_history(url: str, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    monkeypatch.setenv("FLOWSCOPE_COLLECTOR_URL", url)
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(query)
    at.run()
    at.query_params.update(query)
    at.switch_page("screens/history.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def api(url: str, path: str, **params: Any) -> Any:
    return httpx.get(f"{url}{path}", params=params, timeout=30).json()


def test_history_lists_stored_runs_as_the_store_does(
    history_collector: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ids = history_collector
    at = open_history(url, monkeypatch)
    table = next(df.value for df in at.dataframe if "run_id" in df.value.columns)
    stored = api(url, "/api/runs")["runs"]
    assert list(table["run_id"]) == [r["id"] for r in stored] == list(reversed(ids))
    assert list(table["input_tokens"]) == [r["input_tokens"] for r in stored]
    assert set(table["status"]) == {"succeeded"}


def test_history_diffs_two_stored_runs_node_by_node(
    history_collector: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ids = history_collector
    at = open_history(url, monkeypatch, ra=ids[0], rb=ids[1])
    diff = api(url, "/api/runs/diff", a=ids[0], b=ids[1])
    shown = {m.label: m.value for m in at.metric}
    tokens = diff["deltas"]["input_tokens"] + diff["deltas"]["output_tokens"]
    assert shown["Tokens B − A"] == f"{tokens:+,}"
    assert shown["Latency B − A"] == f"{diff['deltas']['elapsed_ms']:+,.1f} ms"
    cost = diff["deltas"]["cost_usd"]
    if cost is not None:
        assert shown["Cost B − A"] == f"{'-' if cost < 0 else '+'}{fmt_usd(abs(cost))}"
    table = next(df.value for df in at.dataframe if "ms_delta" in df.value.columns)
    assert list(table["node"]) == [p["node_id"] for p in diff["pairs"]]
    assert list(table["type"]) == ["start", "llm", "end"]
    html = "\n".join(m.value for m in at.markdown)
    assert "#d6f5dd" in html and "entirely" in html  # run B's changed title is highlighted


def test_history_without_run_store_says_how_to_enable(
    empty_collector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_history(empty_collector, monkeypatch)
    text = " ".join(i.value for i in at.info)
    assert "--database-url" in text and "FLOWSCOPE_DATABASE_URL" in text
