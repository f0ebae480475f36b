"""Issue 3's acceptance: a corpus workflow, traced by the probe, read back from the collector.

A real collector process (chDB in a temp dir, free port) receives the spans of
``auto-instrument flowscope run SEO_Slug_Generator.yml`` (a subprocess); the read API must
return the workflow span and one span per executed node, correctly parented, with the token
counts the simulated provider reported (recomputed here by running the same workflow in-process,
uninstrumented: the simulated provider is deterministic).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT.parent / "shared" / "dify-dsl" / "SEO_Slug_Generator.yml"
TITLE = "Ten tips for growing tomatoes on a balcony"
sys.path.insert(0, str(ROOT / "tests" / "collector"))

from collector_harness import CollectorProcess  # noqa: E402


def expected_run(env: dict[str, str]) -> Any:
    from workflow_core.services import build_runner

    runner = build_runner(WORKFLOW, environ=env)
    return runner.run({"title": TITLE})


def find_trace(collector: CollectorProcess, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        traces = collector.get("/api/traces", workflow="SEO Slug Generator").json()["traces"]
        if traces:
            trace: dict[str, Any] = collector.get(f"/api/traces/{traces[0]['trace_id']}").json()
            return trace
        time.sleep(0.3)
    raise AssertionError(f"no trace arrived: {collector.health()} {collector.log()}")


@pytest.mark.e2e
def test_seo_slug_generator_traced_end_to_end(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector").start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLOWSCOPE_"))}
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
            OTEL_SERVICE_NAME="skeleton-e2e",
            FLOWSCOPE_CONVERSATIONS_DIR=str(tmp_path / "conversations"),
        )
        bindir = Path(sys.executable).parent
        proc = subprocess.run(
            [
                str(bindir / "auto-instrument"),
                str(bindir / "flowscope"),
                "run",
                str(WORKFLOW),
                "--input",
                f"title={TITLE}",
                "--json",
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["status"] == "succeeded"

        trace = find_trace(collector)
        spans = trace["spans"]
        by_id = {s["span_id"]: s for s in spans}
        roots = [s for s in spans if s["parent_span_id"] == ""]
        assert len(roots) == 1
        root = roots[0]
        assert root["attributes"]["flowscope.span.kind"] == "workflow"
        assert root["name"] == "invoke_workflow SEO Slug Generator"
        assert root["service_name"] == "skeleton-e2e"
        assert root["attributes"]["flowscope.workflow.run_id"] == result["run_id"]

        expected = expected_run(env)
        node_spans = {
            s["attributes"]["flowscope.node.id"]: s
            for s in spans
            if s["attributes"].get("flowscope.span.kind") == "node"
        }
        executed = expected.node_order()
        assert sorted(node_spans) == sorted(executed)
        assert len(
            [s for s in spans if s["attributes"].get("flowscope.span.kind") == "node"]
        ) == len(executed)
        for node in expected.node_results:
            span = node_spans[node.node_id]
            assert span["parent_span_id"] == root["span_id"]
            assert span["attributes"]["flowscope.node.type"] == node.node_type
            assert span["attributes"]["flowscope.node.title"] == node.title
            llm_spans = [
                s
                for s in spans
                if s["parent_span_id"] == span["span_id"]
                and s["attributes"].get("flowscope.span.kind") == "llm"
            ]
            assert len(llm_spans) == len(node.llm_calls)
            for call, llm in zip(node.llm_calls, llm_spans, strict=True):
                assert by_id[llm["parent_span_id"]] is span
                assert (
                    int(llm["attributes"]["gen_ai.usage.input_tokens"]) == call.usage.input_tokens
                )
                assert (
                    int(llm["attributes"]["gen_ai.usage.output_tokens"]) == call.usage.output_tokens
                )
                assert llm["attributes"]["gen_ai.request.model"]
                assert llm["cost_usd"] > 0
        assert any(node.llm_calls for node in expected.node_results)
        assert root["cost_usd_total"] == pytest.approx(sum(s["cost_usd"] for s in spans))

        nodes = collector.get("/api/stats/nodes", workflow="SEO Slug Generator").json()["nodes"]
        llm_row = next(n for n in nodes if n["node_type"] == "llm")
        assert llm_row["cost_usd"] > 0 and llm_row["p95_ms"] > 0 and llm_row["count"] == 1
    finally:
        collector.stop()
