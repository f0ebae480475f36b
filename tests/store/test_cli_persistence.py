"""`flowscope run` keeps run history in the SQL run store when FLOWSCOPE_DATABASE_URL is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from workflow_core.store.queries import RunHistory

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "dify-dsl"
FLOWSCOPE = str(Path(sys.executable).with_name("flowscope"))


def test_flowscope_run_persists_run_and_node_executions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    env = {**os.environ, "FLOWSCOPE_DATABASE_URL": url, "FLOWSCOPE_LLM_PROVIDER": "simulated"}
    proc = subprocess.run(
        [
            FLOWSCOPE,
            "run",
            str(CORPUS / "SEO_Slug_Generator.yml"),
            "--json",
            "--input",
            "title=Run history for every workflow",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    detail = RunHistory(create_engine(url)).get_run(result["run_id"])
    assert detail.run.status == "succeeded"
    node_types = [node.node_type for node in detail.nodes]
    assert node_types == ["start", "llm", "end"]
    assert detail.outputs == result["outputs"]
