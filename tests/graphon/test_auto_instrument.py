"""Issue 11's acceptance: the same corpus file, run by workflow_core and by graphon, each under
``auto-instrument`` in its own process, gives node for node the same span tree in the collector.

Real parts only: a ``flowscope collector`` process (chDB in a temp dir, free port), the
``auto-instrument`` launcher, ``flowscope run`` (workflow_core) and ``python -m graphon_support
run`` (graphon 0.8 with the offline model runtime); trees are read back through the read API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphon_support.corpus import SAMPLES
from graphon_support.trees import from_api, span_tree

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# workflow_core runs in its own (3.11) environment when there is one, as in production; graphon
# needs this (3.12) one.
CORE_BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "flowscope").exists() else BIN
sys.path.insert(0, str(ROOT / "tests" / "collector"))

from collector_harness import CollectorProcess  # noqa: E402


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    process = CollectorProcess(tmp_path_factory.mktemp("collector")).start()
    try:
        yield process
    finally:
        process.stop()


def _run_instrumented(
    collector: CollectorProcess, service: str, bindir: Path, command: list[str], tmp: Path
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLOWSCOPE_"))}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_SERVICE_NAME=service,
        FLOWSCOPE_CONVERSATIONS_DIR=str(tmp / "conversations"),
    )
    proc = subprocess.run(
        [str(bindir / "auto-instrument"), "--", *command],
        env=env,
        cwd=ROOT,  # python -m graphon_support needs the repository on sys.path
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _new_trace(collector: CollectorProcess, workflow: str, seen: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        collector.wait_drained()
        listed = collector.get("/api/traces", workflow=workflow, limit=50).json()["traces"]
        fresh = [t["trace_id"] for t in listed if t["trace_id"] not in seen]
        if fresh:
            seen.add(fresh[0])
            trace: dict[str, Any] = collector.get(f"/api/traces/{fresh[0]}").json()
            return trace
        time.sleep(0.3)
    raise AssertionError(f"no new trace of {workflow!r}: {collector.log()[-2000:]}")


@pytest.mark.e2e
@pytest.mark.parametrize(
    "file",
    ["SEO_Slug_Generator.yml", "json-repair.yml", "dify_course_demo.yml"],
)
def test_graphon_and_core_give_the_same_span_tree_under_auto_instrument(
    collector: CollectorProcess, tmp_path: Path, file: str
) -> None:
    sample = SAMPLES[file]
    args = [str(sample.path)]
    for name, value in sample.inputs.items():
        args += ["--input", f"{name}={value}"]
    if sample.query is not None:
        args += ["--query", sample.query]
    name = str(__import__("workflow_core.dsl").dsl.load_app(sample.path, validate=False).name)
    seen: set[str] = set()

    core_command = [str(CORE_BIN / "flowscope"), "run", *args, "--json"]
    core = _run_instrumented(collector, "core-e2e", CORE_BIN, core_command, tmp_path)
    core_tree = span_tree(from_api(_new_trace(collector, name, seen)))
    graphon = _run_instrumented(
        collector,
        "graphon-e2e",
        BIN,
        [sys.executable, "-m", "graphon_support", "run", *args, "--json"],
        tmp_path,
    )
    graphon_trace = _new_trace(collector, name, seen)
    graphon_tree = span_tree(from_api(graphon_trace))

    assert (core["status"], graphon["status"]) == ("succeeded", "succeeded")
    assert graphon["outputs"] == core["outputs"]
    assert graphon_tree.lines() == core_tree.lines()
    assert graphon_tree == core_tree
    llm = [s for s in graphon_trace["spans"] if s["attributes"].get("flowscope.span.kind") == "llm"]
    assert all(int(s["attributes"]["gen_ai.usage.output_tokens"]) > 0 for s in llm)
