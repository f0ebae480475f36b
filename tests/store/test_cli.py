"""``flowscope db``: the whole cycle through the CLI on every dialect, and as installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from workflow_core.cli import main
from workflow_core.store import migrate

FLOWSCOPE = Path(sys.executable).with_name("flowscope")


def _url(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _db(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["db", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_db_commands_upgrade_check_downgrade_and_report(
    db_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    url, head = _url(db_url), migrate.head_revision()
    code, out, _ = _db(capsys, "--url", url, "current")
    assert code == 1
    assert "revision (empty)" in out and "flowscope db upgrade" in out

    code, out, err = _db(capsys, "--url", url, "upgrade")
    assert code == 0, err
    assert f"at revision {head}" in out
    code, out, _ = _db(capsys, "--url", url, "current")
    assert code == 0 and "up to date" in out
    code, out, err = _db(capsys, "--url", url, "check")
    assert code == 0, err
    assert "schema matches the models" in out

    code, out, err = _db(capsys, "--url", url, "downgrade", "base")
    assert code == 0, err
    assert "at revision (empty)" in out
    code, _, err = _db(capsys, "--url", url, "check")
    assert code == 1 and "flowscope db upgrade" in err


def test_db_upgrade_sql_prints_the_ddl_without_touching_the_database(
    db_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _db(capsys, "--url", _url(db_url), "upgrade", "--sql")
    assert code == 0, err
    assert "CREATE TABLE workflow_runs" in out
    assert _db(capsys, "--url", _url(db_url), "current")[0] == 1  # still empty


def test_installed_command_reads_the_url_from_the_environment(tmp_path: Path) -> None:
    env = {**os.environ, "FLOWSCOPE_DATABASE_URL": f"sqlite:///{tmp_path / 'runs.db'}"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FLOWSCOPE), "db", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    up = run("upgrade")
    assert up.returncode == 0, up.stderr
    assert str(tmp_path / "runs.db") in up.stdout
    bad = subprocess.run(
        [str(FLOWSCOPE), "db", "current"],
        env={**env, "FLOWSCOPE_DATABASE_URL": "oracle://scott@db/orcl"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "FLOWSCOPE_DATABASE_URL: database 'oracle' is not supported" in bad.stderr
