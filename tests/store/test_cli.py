"""``flowscope db`` as a user runs it: a real subprocess per command, on every dialect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL

from workflow_core.store import migrate

FLOWSCOPE = Path(sys.executable).with_name("flowscope")


def _db(url: URL | str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLOWSCOPE_DATABASE_URL"}
    env["FLOWSCOPE_DATABASE_URL"] = (
        url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    )
    return subprocess.run(
        [str(FLOWSCOPE), "db", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_db_commands_upgrade_check_downgrade_and_report(db_url: URL) -> None:
    head = migrate.head_revision()
    behind = _db(db_url, "current")
    assert behind.returncode == 1
    assert "revision (empty)" in behind.stdout and "flowscope db upgrade" in behind.stdout

    up = _db(db_url, "upgrade")
    assert up.returncode == 0, up.stderr
    assert f"at revision {head}" in up.stdout

    current = _db(db_url, "current")
    assert current.returncode == 0 and "up to date" in current.stdout

    check = _db(db_url, "check")
    assert check.returncode == 0, check.stderr
    assert "schema matches the models" in check.stdout

    down = _db(db_url, "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert "at revision (empty)" in down.stdout
    assert _db(db_url, "check").returncode == 1


def test_db_upgrade_sql_prints_the_ddl_without_touching_the_database(tmp_path: Path) -> None:
    db_url = URL.create("sqlite", database=str(tmp_path / "runs.db"))
    result = _db(db_url, "upgrade", "--sql")
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE workflow_runs" in result.stdout
    assert _db(db_url, "current").returncode == 1  # still empty


def test_db_rejects_an_unsupported_url_with_exit_code_2(tmp_path: Path) -> None:
    result = _db("oracle://scott@db/orcl", "current", cwd=tmp_path)
    assert result.returncode == 2
    assert "FLOWSCOPE_DATABASE_URL: database 'oracle' is not supported" in result.stderr
