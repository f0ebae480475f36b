"""``flowscope dashboard``: bad settings fail at start; the Streamlit command line is safe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dashboard.cli import streamlit_argv

FLOWSCOPE = str(Path(sys.executable).parent / "flowscope")


def test_bad_link_template_fails_at_start_with_exit_2() -> None:
    proc = subprocess.run(
        [FLOWSCOPE, "dashboard", "--port", "1"],
        env={"FLOWSCOPE_APM_URL_TEMPLATE": "http://apm/{trace}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "FLOWSCOPE_APM_URL_TEMPLATE: unknown placeholder {trace}" in proc.stderr


def test_bad_collector_url_names_the_flag() -> None:
    proc = subprocess.run(
        [FLOWSCOPE, "dashboard", "--collector", "127.0.0.1:4318"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--collector / FLOWSCOPE_COLLECTOR_URL must be an http" in proc.stderr


def test_streamlit_runs_headless_on_the_given_address_without_usage_stats() -> None:
    argv = streamlit_argv("127.0.0.1", 8765)
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4].endswith("dashboard/app.py")
    for option in (
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--server.address=127.0.0.1",
        "--server.port=8765",
    ):
        assert option in argv
