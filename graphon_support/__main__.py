"""``python -m graphon_support run FILE.yml [--input NAME=VALUE ...] [--query TEXT] [--json]``.

Runs one Dify DSL file on graphon offline (simulated LLM, local sandbox) — the graphon twin of
``flowscope run``, so both engines can be run the same way, e.g. under ``auto-instrument``.
Exit codes: 0 succeeded, 1 the run failed, 2 bad usage or a file graphon cannot load.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from graphon_support.errors import GraphonSupportError
from graphon_support.loader import plain, run_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphon_support")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a Dify DSL file on graphon, offline")
    run.add_argument("file", type=Path)
    run.add_argument("--input", action="append", default=[], metavar="NAME=VALUE")
    run.add_argument("--query", default=None)
    run.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    inputs: dict[str, str] = {}
    for item in args.input:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--input {item!r}: expected NAME=VALUE")
        inputs[name] = value
    if not args.file.is_file():
        print(f"{args.file}: no such file", file=sys.stderr)
        return 2
    try:
        result = run_file(args.file, inputs, query=args.query)
    except GraphonSupportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    summary = {"status": result.status, "outputs": plain(result.outputs), "error": result.error}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, default=str))
    else:
        print(f"{result.status}: {json.dumps(summary['outputs'], ensure_ascii=False, default=str)}")
    _flush_telemetry()
    return 0 if result.status != "failed" else 1


def _flush_telemetry() -> None:
    """Flush the probe's spans now if ``auto-instrument`` loaded it.

    Workaround: on Python 3.12 the probe's atexit flush cannot start its bounded-shutdown thread
    ("can't create new thread at interpreter shutdown"), so spans still queued at exit would be
    lost. Flushing before returning, as a host's graceful shutdown does, avoids that. Remove
    once the probe flushes without a new thread at exit.
    """
    loaded = sys.modules.get("probe")
    if loaded is not None and loaded.is_instrumented():
        loaded.uninstrument()


if __name__ == "__main__":
    sys.exit(main())
