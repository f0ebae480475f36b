"""``flowscope run`` / ``flowscope validate`` as real subprocesses: output contract, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from wfc_support import CORPUS

FLOWSCOPE = [sys.executable, "-m", "workflow_core.cli"]


def _flowscope(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLOWSCOPE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _last_json(stdout: str) -> dict[str, object]:
    report = json.loads(stdout.strip().splitlines()[-1])
    assert isinstance(report, dict)
    return report


def test_validate_reports_all_13_corpus_files_valid() -> None:
    files = sorted(str(p) for p in CORPUS.glob("*.yml"))
    proc = _flowscope("validate", *files, "--json")
    assert proc.returncode == 0, proc.stderr
    report = _last_json(proc.stdout)
    assert report["valid"] is True
    assert len(report["files"]) == 13  # type: ignore[arg-type]
    assert "13 valid, 0 invalid" in proc.stderr


def test_run_json_last_line_is_the_result_contract() -> None:
    proc = _flowscope(
        "run", str(CORPUS / "SEO_Slug_Generator.yml"), "--input", "title=Hello flowscope", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    report = _last_json(proc.stdout)
    assert report["status"] == "succeeded"
    assert report["error"] is None
    assert isinstance(report["run_id"], str) and len(report["run_id"]) == 36
    assert "Hello flowscope" in report["outputs"]["output"]  # type: ignore[index]


def test_chat_conversation_persists_between_processes(tmp_path: Path) -> None:
    env = {"FLOWSCOPE_CONVERSATIONS_DIR": str(tmp_path)}
    file = str(CORPUS / "llm_surrounded_game.yml")
    _flowscope("run", file, "--query", "#开始", "--conversation", "c-1", "--json", env=env)
    proc = _flowscope("run", file, "--query", "abc", "--conversation", "c-1", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    report = _last_json(proc.stdout)
    assert report["conversation_id"] == "c-1"
    assert "挑战失败" in report["outputs"]["answer"]  # type: ignore[index]
    stored = json.loads(next(tmp_path.glob("*/c-1.json")).read_text())
    assert stored["variables"]["status"] == "running" and len(stored["turns"]) == 2


def test_failed_workflow_exits_1_with_the_error() -> None:
    proc = _flowscope("run", str(CORPUS / "json-repair.yml"), "--input", "llm_string=", "--json")
    assert proc.returncode == 2  # the input is required: bad input, not a failed run
    code_fail = _flowscope(
        "run",
        str(CORPUS / "dify_course_demo.yml"),
        "--input",
        "course_name=Python",
        "--json",
        env={"FLOWSCOPE_SIM_SCRIPT": str(_script_without_json())},
    )
    assert code_fail.returncode == 1, code_fail.stderr
    report = _last_json(code_fail.stdout)
    assert report["status"] == "failed"
    assert str(report["error"]).startswith("node 1728203511475 (code)")


def _script_without_json() -> Path:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"flowscope-script-{os.getpid()}.yml"
    path.write_text("'1728198088794': no outline today\n", encoding="utf-8")
    return path


def test_missing_file_exits_2_naming_it(tmp_path: Path) -> None:
    proc = _flowscope("run", str(tmp_path / "missing.yml"), "--json")
    assert proc.returncode == 2
    assert "missing.yml: file not found" in proc.stderr
    assert _last_json(proc.stdout)["status"] == "failed"


def test_yaml_that_is_not_a_dify_app_exits_2(tmp_path: Path) -> None:
    file = tmp_path / "compose.yml"
    file.write_text("services:\n  web:\n    image: nginx\n")
    proc = _flowscope("validate", str(file))
    assert proc.returncode == 2
    assert "compose.yml: not a Dify app export" in proc.stderr


def test_edge_to_unknown_node_exits_2_naming_file_and_node(tmp_path: Path) -> None:
    raw = (CORPUS / "SEO_Slug_Generator.yml").read_text(encoding="utf-8")
    file = tmp_path / "broken.yml"
    file.write_text(raw.replace("target: '1721110634700'", "target: '999'"), encoding="utf-8")
    proc = _flowscope("run", str(file), "--input", "title=x")
    assert proc.returncode == 2
    assert "broken.yml" in proc.stderr and "unknown node 999" in proc.stderr


def test_unknown_input_and_missing_required_input_exit_2() -> None:
    file = str(CORPUS / "SEO_Slug_Generator.yml")
    unknown = _flowscope("run", file, "--input", "titel=x")
    assert unknown.returncode == 2 and "input 'titel' is not declared" in unknown.stderr
    missing = _flowscope("run", file)
    assert missing.returncode == 2 and "input 'title' is required" in missing.stderr


def test_repeat_runs_n_times_without_a_progress_bar_in_a_pipe() -> None:
    proc = _flowscope(
        "run", str(CORPUS / "SEO_Slug_Generator.yml"), "-i", "title=x", "--repeat", "3", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    report = _last_json(proc.stdout)
    assert report["runs"] == 3 and report["failed_runs"] == 0
    assert "it/s" not in proc.stderr and "run/s" not in proc.stderr


def test_unknown_provider_is_bad_input() -> None:
    proc = _flowscope(
        "run",
        str(CORPUS / "SEO_Slug_Generator.yml"),
        "-i",
        "title=x",
        env={"FLOWSCOPE_LLM_PROVIDER": "cohere"},
    )
    assert proc.returncode == 2
    assert "FLOWSCOPE_LLM_PROVIDER must be one of simulated, openai, got 'cohere'" in proc.stderr


def test_file_option_fills_sys_files(tmp_path: Path) -> None:
    app = {
        "app": {"name": "files", "mode": "advanced-chat"},
        "kind": "app",
        "version": "0.1.5",
        "workflow": {
            "graph": {
                "nodes": [
                    {"id": "s", "data": {"type": "start", "title": "s", "variables": []}},
                    {
                        "id": "a",
                        "data": {"type": "answer", "title": "a", "answer": "{{#sys.files#}}"},
                    },
                ],
                "edges": [{"id": "e", "source": "s", "target": "a"}],
            }
        },
    }
    dsl = tmp_path / "files.yml"
    dsl.write_text(json.dumps(app), encoding="utf-8")
    (tmp_path / "notes.md").write_text("# notes\n", encoding="utf-8")
    proc = _flowscope(
        "run", str(dsl), "--query", "q", "--file", str(tmp_path / "notes.md"), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    answer = _last_json(proc.stdout)["outputs"]["answer"]  # type: ignore[index]
    assert answer == f"[notes.md]({(tmp_path / 'notes.md').as_uri()})"
    missing = _flowscope("run", str(dsl), "--query", "q", "--file", str(tmp_path / "nope.pdf"))
    assert missing.returncode == 2 and "nope.pdf: file not found" in missing.stderr


def test_repeat_shows_a_progress_bar_on_a_terminal() -> None:
    import pty
    import threading

    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [
                *FLOWSCOPE,
                "run",
                str(CORPUS / "SEO_Slug_Generator.yml"),
                "-i",
                "title=x",
                "--repeat",
                "3",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=120,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=5)
        os.close(master)
    assert proc.returncode == 0
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert "0/3" in terminal and "SEO_Slug_Generator.yml:" in terminal


OFFLINE_RUNS = {
    "SEO_Slug_Generator": ["-i", "title=Ten tips for remote work"],
    "translation_workflow": [
        "-i",
        "source_text=Good morning",
        "-i",
        "source_lang=English",
        "-i",
        "target_lang=German",
    ],
    "json-repair": ["-i", "llm_string={'a': 1,"],
    "dify_course_demo": ["-i", "course_name=Rust"],
    "Artifact": ["--query", "make a landing page"],
    "llm_surrounded_game": ["--query", "#开始"],
    "simple-kimi": ["-i", "web_search=关闭", "--query", "hello kimi"],
}


@pytest.mark.parametrize("name", sorted(OFFLINE_RUNS))
def test_offline_corpus_file_runs_to_success_with_flowscope_run(name: str) -> None:
    proc = _flowscope("run", str(CORPUS / f"{name}.yml"), *OFFLINE_RUNS[name], "--json")
    assert proc.returncode == 0, proc.stderr
    report = _last_json(proc.stdout)
    assert report["status"] == "succeeded" and report["error"] is None
    outputs = report["outputs"]
    assert isinstance(outputs, dict) and outputs
    assert all(value not in (None, "", [], {}) for value in outputs.values()), outputs
