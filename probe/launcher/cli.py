"""``auto-instrument [--service-name N] [--endpoint URL] [--policy FILE] [--] COMMAND [ARGS...]``.

Like ``opentelemetry-instrument``: the flags become environment variables (``OTEL_SERVICE_NAME``,
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``FLOWSCOPE_SAMPLING_POLICY``), the directory holding the
probe's ``sitecustomize.py`` is prepended to ``PYTHONPATH``, and COMMAND replaces this process.
Every Python interpreter started from there on — ``python script.py``, ``python -m module``, a
console script such as ``flowscope run`` or ``uvicorn``, and their child processes, which inherit
the environment — runs ``probe.instrument()`` at start-up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent / "site"
EXIT_USAGE = 2
EXIT_NOT_FOUND = 127


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auto-instrument",
        description="Run a Python command with the flowscope probe loaded.",
        epilog="Example: auto-instrument --service-name demo -- flowscope run app.yml --input x=1",
    )
    parser.add_argument("--service-name", help="OTEL_SERVICE_NAME of the traced process")
    parser.add_argument(
        "--endpoint",
        help="OTLP/HTTP base URL of the collector (OTEL_EXPORTER_OTLP_ENDPOINT; "
        "default http://127.0.0.1:4318)",
    )
    parser.add_argument("--policy", help="sampling policy file (FLOWSCOPE_SAMPLING_POLICY)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run")
    return parser


def prepare_environment(args: argparse.Namespace, env: dict[str, str]) -> dict[str, str]:
    """The environment COMMAND runs with (flags win over variables already set)."""
    env = dict(env)
    if args.service_name:
        env["OTEL_SERVICE_NAME"] = args.service_name
    if args.endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = args.endpoint
    if args.policy:
        env["FLOWSCOPE_SAMPLING_POLICY"] = str(Path(args.policy).resolve())
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    site = str(SITE_DIR)
    env["PYTHONPATH"] = os.pathsep.join([site, *[p for p in paths if p != site]])
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.print_usage(sys.stderr)
        print("auto-instrument: error: COMMAND is required", file=sys.stderr)
        return EXIT_USAGE
    if args.policy and not Path(args.policy).is_file():
        print(f"auto-instrument: error: --policy {args.policy}: no such file", file=sys.stderr)
        return EXIT_USAGE
    env = prepare_environment(args, dict(os.environ))
    executable = shutil.which(command[0], path=env.get("PATH"))
    if executable is None:
        print(f"auto-instrument: error: command not found: {command[0]}", file=sys.stderr)
        return EXIT_NOT_FOUND
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(executable, command, env)
    return 0  # pragma: no cover - execve does not return


if __name__ == "__main__":
    sys.exit(main())
