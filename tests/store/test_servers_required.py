"""Under CI=true a missing database server fails the suite; on a laptop it skips."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def _run_round_trip_on_postgres(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["FLOWSCOPE_TEST_POSTGRES_URL"] = (
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test"
    )
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/store/test_migrations.py",
            "-k",
            "round_trip and postgresql",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_missing_server_fails_the_suite_under_ci() -> None:
    result = _run_round_trip_on_postgres("true")
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout  # pytest.fail in the database fixture
    assert "CI=true: run `make services`" in result.stdout


def test_a_missing_server_skips_outside_ci() -> None:
    result = _run_round_trip_on_postgres(None)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
