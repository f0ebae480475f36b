"""The ``flowscope`` command line.

``run`` / ``validate`` live here; other packages contribute sub-commands through the
``flowscope.commands`` entry-point group, so this module never imports them.

Exit codes: 0 succeeded, 1 the workflow failed, 2 bad input (file, DSL, inputs, settings).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from workflow_core.errors import FlowscopeError, InputError

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowscope", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _register_run(sub)
    _register_validate(sub)
    for ep in sorted(entry_points(group="flowscope.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as exc:  # an optional extra is not installed
            logger.debug("flowscope command %s unavailable: %s", ep.name, exc)
            continue
        register(sub)
    return parser


def _register_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run a Dify DSL workflow or chatflow")
    run.add_argument("file", type=Path, help="Dify DSL export (.yml)")
    run.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="start-node input (repeatable); file inputs take a local path",
    )
    run.add_argument("--query", "-q", help="user message of an advanced-chat app (sys.query)")
    run.add_argument(
        "--conversation", metavar="ID", help="conversation id: persists chat turns between runs"
    )
    run.add_argument(
        "--file",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        dest="files",
        help="local file passed as sys.files (repeatable)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON result line last")
    run.add_argument("--repeat", type=int, default=1, metavar="N", help="run N times (load)")
    run.add_argument("--provider", help="LLM provider (overrides FLOWSCOPE_LLM_PROVIDER)")
    run.add_argument("--max-workers", type=int, help="parallel branches (FLOWSCOPE_MAX_WORKERS)")
    run.set_defaults(func=cmd_run)


def _register_validate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = sub.add_parser("validate", help="check Dify DSL files without running them")
    validate.add_argument("files", type=Path, nargs="+")
    validate.add_argument("--json", action="store_true", help="print one JSON report line last")
    validate.set_defaults(func=cmd_validate)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result


# -- run -----------------------------------------------------------------------------------
def _parse_inputs(pairs: Sequence[str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"--input must look like NAME=VALUE, got {pair!r}")
        inputs[name] = value
    return inputs


def _input_file(path: Path) -> dict[str, Any]:
    from workflow_core.files import file_from_path

    try:
        return file_from_path(path)
    except FileNotFoundError as exc:
        raise InputError(f"--file {path}: file not found") from exc


def cmd_run(args: argparse.Namespace) -> int:
    from workflow_core.services import build_runner

    try:
        inputs = _parse_inputs(args.input)
        files = [_input_file(path) for path in args.files]
        if args.repeat < 1:
            raise InputError(f"--repeat must be at least 1, got {args.repeat}")
        runner = build_runner(
            args.file, environ=os.environ, provider=args.provider, max_workers=args.max_workers
        )
    except FlowscopeError as exc:
        return _bad_input(args, str(exc))
    results = []
    try:
        for _ in _progress(range(args.repeat), args.repeat, args.file.name):
            results.append(
                runner.run(inputs, query=args.query, conversation_id=args.conversation, files=files)
            )
    except InputError as exc:
        return _bad_input(args, str(exc))
    last = results[-1]
    failed = [r for r in results if r.status == "failed"]
    if not args.json:
        _print_human(runner.app.mode, last)
    report: dict[str, Any] = {
        "status": "failed" if failed else "succeeded",
        "outputs": last.outputs,
        "run_id": last.run_id,
        "error": failed[0].error if failed else None,
    }
    if args.json:
        report["run_status"] = last.status
        if last.conversation_id:
            report["conversation_id"] = last.conversation_id
        if args.repeat > 1:
            report.update(runs=len(results), failed_runs=len(failed))
        print(json.dumps(report, ensure_ascii=False, default=str))
    return EXIT_FAILED if failed else EXIT_OK


def _progress(items: Sequence[Any], total: int, label: str) -> Any:
    """A tqdm bar on a terminal only; quiet in pipes and CI."""
    if total <= 1:
        return items
    from tqdm import tqdm

    on_terminal = sys.stderr.isatty()
    try:  # a pty reporting a 0x0 size (CI, `script`) would hide the bar
        size = os.get_terminal_size(sys.stderr.fileno()) if on_terminal else None
    except OSError:
        size = None
    return tqdm(
        items,
        total=total,
        desc=label,
        disable=not on_terminal,
        leave=False,
        ncols=(size.columns if size else 0) or 80,
        nrows=(size.lines if size else 0) or 24,
    )


def _print_human(mode: str, result: Any) -> None:
    if result.status == "failed":
        print(f"run {result.run_id} failed: {result.error}", file=sys.stderr)
        return
    if mode == "advanced-chat":
        print(result.answer)
        if result.conversation_id:
            print(f"(conversation {result.conversation_id})", file=sys.stderr)
        return
    for key, value in result.outputs.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        print(f"{key}: {text}")


def _bad_input(args: argparse.Namespace, message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"status": "failed", "outputs": {}, "run_id": None, "error": message}))
    return EXIT_BAD_INPUT


# -- validate ------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    from workflow_core.dsl import load_app

    report: dict[str, str | None] = {}
    for file in _progress(args.files, len(args.files), "validate"):
        try:
            app = load_app(file)
        except FlowscopeError as exc:
            report[str(file)] = str(exc)
            print(f"INVALID {file}: {exc}", file=sys.stderr)
            continue
        report[str(file)] = None
        print(f"ok      {file} ({app.mode}, {len(app.nodes)} nodes, DSL {app.version})")
    invalid = sum(1 for error in report.values() if error)
    print(f"{len(report) - invalid} valid, {invalid} invalid", file=sys.stderr)
    if args.json:
        print(json.dumps({"valid": invalid == 0, "files": report}, ensure_ascii=False))
    return EXIT_BAD_INPUT if invalid else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
