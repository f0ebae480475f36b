"""deploy/systemd units and deploy/Procfile run commands the real flowscope CLI accepts."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_core.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy/systemd").glob("*.service"))


def _flowscope_args(command: str) -> list[str]:
    argv = shlex.split(command)
    assert Path(argv[0]).name == "flowscope", f"{command!r} does not run flowscope"
    return argv[1:]


def _procfile_commands() -> dict[str, str]:
    lines = (ROOT / "deploy/Procfile").read_text().splitlines()
    return dict(
        (name.strip(), cmd.strip())
        for name, _, cmd in (line.partition(":") for line in lines if not line.startswith("#"))
        if cmd
    )


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_there_is_a_unit_and_a_procfile_entry_for_the_collector_and_the_dashboard() -> None:
    assert {p.name for p in UNITS} == {"flowscope-collector.service", "flowscope-dashboard.service"}
    assert set(_procfile_commands()) == {"collector", "dashboard"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_execstart_parses_with_the_flowscope_cli(unit: Path) -> None:
    service = _unit(unit)["Service"]
    args = build_parser().parse_args(_flowscope_args(service["ExecStart"]))
    assert callable(args.func)
    assert service["User"] == "flowscope"  # never root
    assert service["EnvironmentFile"] == "/etc/flowscope/flowscope.env"
    assert "127.0.0.1" in service["ExecStart"] or "--host" not in service["ExecStart"]


@pytest.mark.parametrize("name", ["collector", "dashboard"])
def test_procfile_command_parses_with_the_flowscope_cli(name: str) -> None:
    argv = _flowscope_args(_procfile_commands()[name])
    assert argv[0] == name
    assert callable(build_parser().parse_args(argv).func)


def test_env_file_sets_only_variables_the_code_reads_and_binds_localhost() -> None:
    code = "".join(
        path.read_text()
        for package in ("collector", "dashboard")
        for path in (ROOT / package).rglob("*.py")
    )
    env = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy/systemd/flowscope.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    for key in env:
        assert key in code, f"flowscope.env sets {key} but nothing reads it"
    assert env["FLOWSCOPE_COLLECTOR_HOST"] == "127.0.0.1"


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_passes_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is not installed (Debian package systemd)")
    flowscope = Path(sys.executable).parent / "flowscope"
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace("/opt/flowscope/bin/flowscope", str(flowscope)))
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
