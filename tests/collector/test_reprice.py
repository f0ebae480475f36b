"""``flowscope reprice`` recomputes stored cost and the rollups; provided costs stay."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
from collector_harness import FLOWSCOPE, CollectorProcess
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def _attrs(**values: str) -> list[KeyValue]:
    out = []
    for key, value in values.items():
        kv = KeyValue(key=key.replace("__", "."))
        kv.value.string_value = value
        out.append(kv)
    return out


def llm_trace() -> tuple[str, bytes]:
    trace_id = os.urandom(16)
    now = time.time_ns()
    node = Span(
        trace_id=trace_id,
        span_id=os.urandom(8),
        name="llm Writer",
        start_time_unix_nano=now,
        end_time_unix_nano=now + 10**9,
    )
    common = {"flowscope__workflow__name": "reprice-wf", "flowscope__node__id": "n1"}
    node.attributes.extend(
        _attrs(
            flowscope__span__kind="node",
            flowscope__node__type="llm",
            flowscope__node__title="Writer",
            **common,
        )
    )
    usage = {
        "gen_ai__usage__input_tokens": "2000000",
        "gen_ai__usage__output_tokens": "0",
        "gen_ai__request__model": "house-model",
    }
    computed = Span(
        trace_id=trace_id,
        span_id=os.urandom(8),
        parent_span_id=node.span_id,
        name="chat house-model",
        start_time_unix_nano=now + 1,
        end_time_unix_nano=now + 10**8,
    )
    computed.attributes.extend(_attrs(flowscope__span__kind="llm", **common, **usage))
    provided = Span(
        trace_id=trace_id,
        span_id=os.urandom(8),
        parent_span_id=node.span_id,
        name="chat house-model",
        start_time_unix_nano=now + 2,
        end_time_unix_nano=now + 10**8,
    )
    provided.attributes.extend(
        _attrs(flowscope__span__kind="llm", flowscope__cost__usd="0.5", **common, **usage)
    )
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.extend([node, computed, provided])
    return trace_id.hex(), request.SerializeToString()


def costs(collector: CollectorProcess, trace_id: str) -> dict[str, tuple[float, str]]:
    spans = collector.get(f"/api/traces/{trace_id}").json()["spans"]
    return {
        s["attributes"].get("flowscope.cost.usd", s["name"]): (s["cost_usd"], s["cost_source"])
        for s in spans
    }


def test_reprice_backfills_cost_and_rollups_but_keeps_provided_cost(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path).start()
    try:
        trace_id, body = llm_trace()
        assert (
            httpx.post(
                f"{collector.url}/v1/traces",
                content=body,
                headers={"Content-Type": "application/x-protobuf"},
            ).status_code
            == 200
        )
        collector.wait_drained()
        assert costs(collector, trace_id) == {
            "llm Writer": (0.0, ""),
            "chat house-model": (0.0, "unknown"),
            "0.5": (0.5, "provided"),
        }
        assert collector.get("/api/stats/nodes").json()["nodes"][0]["cost_usd"] == 0.5
    finally:
        collector.stop()

    prices = tmp_path / "prices.yaml"
    prices.write_text("models: [{match: house-model, input_per_mtok: 2, output_per_mtok: 4}]\n")
    run = subprocess.run(
        [
            FLOWSCOPE,
            "reprice",
            "--since",
            "1h",
            "--store",
            f"chdb://{collector.store_dir}",
            "--prices-file",
            str(prices),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "repriced 1 LLM spans" in run.stdout

    collector.start()
    try:
        assert costs(collector, trace_id) == {
            "llm Writer": (0.0, ""),
            "chat house-model": (4.0, "price-file"),
            "0.5": (0.5, "provided"),
        }
        node = collector.get("/api/stats/nodes").json()["nodes"][0]
        assert node["cost_usd"] == 4.5
        assert node["count"] == 1  # the rebuilt rollup counts the node once
        root = next(
            s
            for s in collector.get(f"/api/traces/{trace_id}").json()["spans"]
            if s["parent_span_id"] == ""
        )
        assert root["cost_usd_total"] == 4.5  # parents roll cost up from children
    finally:
        collector.stop()


def test_reprice_rejects_a_bad_since(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            FLOWSCOPE,
            "reprice",
            "--since",
            "yesterday-ish",
            "--store",
            f"chdb://{tmp_path / 'chdb'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "--since must be ISO 8601" in run.stderr
