"""Compatibility report, workflow_core vs graphon: ``python -m bench.compat``.

Runs in ``.venv-graphon`` from the repository root (``.venv-graphon/bin/python -m bench.compat``).
For every corpus file (``graphon_support.corpus.SAMPLES``): run it in workflow_core (as
``flowscope run`` does, offline: simulated LLM, sandbox, offline tools/HTTP) and in graphon 0.8
(``graphon_support``: same simulated LLM, same sandbox), then report whether each engine
succeeded, whether their outputs agree, and why not, in SPEC terms
(/work/shared/dify-dsl/SPEC.md sections). One line per file, then a JSON object as the last
stdout line: ``{"files": [...], "both_succeed": n, "outputs_agree": n, "total": n}``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from graphon_support.corpus import SAMPLES, SampleRun
from graphon_support.errors import UnsupportedOnGraphon
from graphon_support.loader import plain, run_file
from workflow_core.dsl import load_app
from workflow_core.services import build_runner

# Node types graphon 0.8's DSL importer (SlimDslNodeFactory.NODE_BUILDERS) cannot build.
_SPEC_NODE = {
    "knowledge-retrieval": "§7.14 knowledge-retrieval",
    "agent": "§7.19 agent",
    "document-extractor": "§7.11 document-extractor",
    "tool": "§7.16 tool",
    "http-request": "§7.15 http-request",
}


@dataclass
class FileReport:
    file: str
    mode: str
    ours: str
    graphon: str
    outputs_agree: bool | None
    explanation: str


def _core_run(sample: SampleRun, conversations: str) -> tuple[str, Any, str | None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLOWSCOPE_"))}
    env["FLOWSCOPE_CONVERSATIONS_DIR"] = conversations
    try:
        result = build_runner(sample.path, environ=env).run(sample.inputs, query=sample.query)
    except Exception as exc:
        return "error", None, f"{type(exc).__name__}: {exc}"
    outputs: Any = result.outputs
    if load_app(sample.path, validate=False).mode == "advanced-chat":
        outputs = {"answer": result.answer}
    return str(result.status), plain(outputs), result.error


def _graphon_run(sample: SampleRun) -> tuple[str, Any, str | None]:
    try:
        result = run_file(sample.path, sample.inputs, query=sample.query)
    except UnsupportedOnGraphon as exc:
        return "unsupported", None, str(exc)
    except Exception as exc:  # a DSL graphon's importer rejects
        return "error", None, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    outputs = plain(result.outputs)
    if isinstance(outputs, Mapping) and "answer" in outputs:
        outputs = {"answer": outputs["answer"]}
    return result.status, outputs, result.error


def explain(ours: tuple[str, Any, str | None], graphon: tuple[str, Any, str | None]) -> str:
    """Why the two engines differ on one file, citing the SPEC section involved."""
    (o_status, o_out, o_err), (g_status, g_out, g_err) = ours, graphon
    reasons: list[str] = []
    if g_status == "unsupported" and g_err:
        types = re.findall(r"[a-z][a-z-]+", g_err.split("Unsupported node types:")[-1])
        named = [f"{_SPEC_NODE.get(t, t)}" for t in types if t in _SPEC_NODE]
        reasons.append(
            "graphon 0.8's DSL importer has no builder for "
            + (", ".join(named) or g_err)
            + " (Dify supplies these nodes from its app layer, not graphon)"
        )
    elif g_status == "error" and g_err and "ToolNodeData" in g_err:
        reasons.append(
            "§7.16 tool: the 0.1.0 builtin form keeps tool_configurations as plain scalars; "
            "graphon 0.8 only accepts the editor-migrated {type, value} form, and runs tools "
            "on the Slim plugin daemon (no offline tool stubs, §10)"
        )
    elif g_status == "failed" and g_err and re.search(r"Name or service|connect", g_err):
        reasons.append(
            "§7.15 http-request: graphon sends the request for real; the offline runner routes "
            "it to a stub table keyed by method+URL, which graphon has no seam for"
        )
    elif g_status not in ("succeeded", "partial-succeeded"):
        reasons.append(f"graphon {g_status}: {g_err}")
    if o_status != "succeeded":
        reasons.append(f"workflow_core {o_status}: {o_err}")
    if not reasons and o_out != g_out:
        reasons.append(_output_difference(o_out, g_out))
    return "; ".join(reasons)


def _output_difference(ours: Any, graphon: Any) -> str:
    if isinstance(ours, Mapping) and isinstance(graphon, Mapping):
        for key in sorted(set(ours) | set(graphon)):
            if ours.get(key) != graphon.get(key):
                return (
                    f"§5.5 run result: output {key!r} differs — ours "
                    f"{json.dumps(ours.get(key), ensure_ascii=False, default=str)[:120]} vs "
                    f"graphon {json.dumps(graphon.get(key), ensure_ascii=False, default=str)[:120]}"
                )
    return "§5.5 run result: outputs differ"


def report(files: list[str]) -> list[FileReport]:
    reports = []
    with tempfile.TemporaryDirectory() as conversations:
        for file in files:
            sample = SAMPLES[file]
            mode = load_app(sample.path, validate=False).mode
            ours, graphon = _core_run(sample, conversations), _graphon_run(sample)
            both = ours[0] == "succeeded" and graphon[0] == "succeeded"
            reports.append(
                FileReport(
                    file=file,
                    mode=mode,
                    ours=ours[0],
                    graphon=graphon[0],
                    outputs_agree=(ours[1] == graphon[1]) if both else None,
                    explanation=explain(ours, graphon),
                )
            )
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compat")
    parser.add_argument("files", nargs="*", help="corpus file names (default: all)")
    args = parser.parse_args(argv)
    reports = report(args.files or sorted(SAMPLES))
    for r in reports:
        agree = {True: "agree", False: "DIFFER", None: "-"}[r.outputs_agree]
        print(
            f"{r.file:32s} {r.mode:13s} ours={r.ours:9s} graphon={r.graphon:11s} {agree:6s} "
            f"{r.explanation}"
        )
    summary = {
        "bench": "compat",
        "total": len(reports),
        "both_succeed": sum(r.ours == "succeeded" and r.graphon == "succeeded" for r in reports),
        "outputs_agree": sum(bool(r.outputs_agree) for r in reports),
        "files": [asdict(r) for r in reports],
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
