"""`make demo` is one of the README's two commands: prove its script works end to end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.e2e
def test_demo_script_shows_cost_and_latency_for_corpus_workflows(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VENV": sys.prefix,
        "FLOWSCOPE_DEMO_DATA": str(tmp_path / "data"),
        "FLOWSCOPE_DEMO_COLLECTOR_PORT": str(_free_port()),
        "FLOWSCOPE_DEMO_DASHBOARD_PORT": str(_free_port()),
        "FLOWSCOPE_DEMO_RUNS": "1",
        "FLOWSCOPE_DEMO_ONESHOT": "1",
    }
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    logs = ""
    for name in ("collector.log", "dashboard.log"):
        log = tmp_path / "data" / name
        if log.exists():
            logs += f"\n--- {name}\n" + log.read_text()[-3000:]
    assert proc.returncode == 0, proc.stdout + proc.stderr + logs
    assert "demo: ok" in proc.stdout
    assert '"status": "succeeded"' in proc.stdout
