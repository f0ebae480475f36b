"""Read API aggregates over spans with known timestamps, sampling rates and usage counters."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from collector_harness import CollectorProcess
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_CUMULATIVE
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

NOW = datetime.now(UTC).replace(second=30, microsecond=0)
HOUR_AGO = NOW - timedelta(hours=3)  # three whole hours back: the hourly rollup is used
PROTO = {"Content-Type": "application/x-protobuf"}


def kvs(**values: Any) -> list[KeyValue]:
    out = []
    for key, value in values.items():
        kv = KeyValue(key=key.replace("__", "."))
        if isinstance(value, float):
            kv.value.double_value = value
        elif isinstance(value, int):
            kv.value.int_value = value
        else:
            kv.value.string_value = value
        out.append(kv)
    return out


def run_spans(at: datetime, *, rate: float, error: bool, workflow: str = "wf-a") -> list[Span]:
    """One run: root + llm node (200 ms) + llm span with 1000/100 tokens of gpt-4o-mini."""
    trace_id = os.urandom(16)
    start = int(at.timestamp() * 1e9)
    common = {"flowscope__workflow__name": workflow, "sampling__rate": rate}
    root = Span(
        trace_id=trace_id,
        span_id=os.urandom(8),
        name=f"invoke_workflow {workflow}",
        start_time_unix_nano=start,
        end_time_unix_nano=start + 300_000_000,
    )
    root.attributes.extend(kvs(flowscope__span__kind="workflow", **common))
    node = Span(
        trace_id=trace_id,
        span_id=os.urandom(8),
        parent_span_id=root.span_id,
        name="llm Writer",
        start_time_unix_nano=start + 1,
        end_time_unix_nano=start + 200_000_001,
    )
    node_attrs = {
        "flowscope__node__id": "n1",
        "flowscope__node__type": "llm",
        "flowscope__node__title": "Writer",
    }
    node.attributes.extend(kvs(flowscope__span__kind="node", **common, **node_attrs))
    if error:
        node.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
        root.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
    llm = Span(
        trace_id=trace_id,
        span_id=os.urandom(8),
        parent_span_id=node.span_id,
        name="chat gpt-4o-mini",
        start_time_unix_nano=start + 2,
        end_time_unix_nano=start + 100_000_000,
    )
    llm.attributes.extend(
        kvs(
            flowscope__span__kind="llm",
            **common,
            **node_attrs,
            gen_ai__provider__name="openai",
            gen_ai__request__model="gpt-4o-mini",
            gen_ai__usage__input_tokens=1000,
            gen_ai__usage__output_tokens=100,
        )
    )
    return [root, node, llm]


def post_traces(collector: CollectorProcess, spans: list[Span]) -> None:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend(kvs(service__name="read-api"))
    rs.scope_spans.add().spans.extend(spans)
    response = httpx.post(
        f"{collector.url}/v1/traces", content=request.SerializeToString(), headers=PROTO
    )
    assert response.status_code == 200


def usage_metrics(calls: int, input_tokens: int, output_tokens: int, start: int, at: int) -> bytes:
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.extend(kvs(service__name="read-api", service__instance__id="p1"))
    scope = rm.scope_metrics.add()
    scope.scope.name = "flowscope.probe.usage"
    attrs = {
        "flowscope__workflow__name": "wf-a",
        "flowscope__node__id": "n1",
        "gen_ai__provider__name": "openai",
        "gen_ai__request__model": "gpt-4o-mini",
    }
    for name, value, token_type in (
        ("flowscope.llm.calls", calls, None),
        ("flowscope.llm.tokens", input_tokens, "input"),
        ("flowscope.llm.tokens", output_tokens, "output"),
    ):
        metric = scope.metrics.add(name=name)
        metric.sum.aggregation_temporality = AGGREGATION_TEMPORALITY_CUMULATIVE
        metric.sum.is_monotonic = True
        point = metric.sum.data_points.add(
            start_time_unix_nano=start, time_unix_nano=at, as_int=value
        )
        extra = {"gen_ai__token__type": token_type} if token_type else {}
        point.attributes.extend(kvs(**attrs, **extra))
    return request.SerializeToString()


@pytest.fixture(scope="module")
def loaded(collector: CollectorProcess) -> CollectorProcess:
    spans: list[Span] = []
    for i in range(4):  # sampled at 25 %: each stands for 4 runs; one failed
        spans += run_spans(HOUR_AGO + timedelta(minutes=10 * i), rate=0.25, error=i == 0)
    spans += run_spans(NOW - timedelta(minutes=2), rate=1.0, error=False)
    spans += run_spans(NOW - timedelta(minutes=1), rate=1.0, error=False, workflow="wf-b")
    post_traces(collector, spans)
    at = time.time_ns()
    for calls, tokens_in, tokens_out, shift in ((10, 9000, 900, 0), (18, 17000, 1700, 10**8)):
        # cumulative: the second point repeats and grows the running total
        response = httpx.post(
            f"{collector.url}/v1/metrics",
            headers=PROTO,
            content=usage_metrics(calls, tokens_in, tokens_out, at - 10**9, at + shift),
        )
        assert response.status_code == 200
    collector.wait_drained()
    return collector


def since(dt: datetime) -> str:
    return dt.isoformat()


def test_node_stats_weight_by_sampling_rate_across_hour_and_minute_rollups(
    loaded: CollectorProcess,
) -> None:
    nodes = loaded.get(
        "/api/stats/nodes", workflow="wf-a", since=since(HOUR_AGO - timedelta(minutes=20))
    ).json()["nodes"]
    assert len(nodes) == 1
    node = nodes[0]
    assert node["node_id"] == "n1" and node["node_type"] == "llm" and node["title"] == "Writer"
    assert node["count"] == 4 * 4 + 1
    assert node["sampled_spans"] == 5
    assert node["errors"] == 4
    assert node["input_tokens"] == 17 * 1000 and node["output_tokens"] == 17 * 100
    assert node["p50_ms"] == pytest.approx(200, rel=0.01)
    assert node["cost_usd"] == pytest.approx(17 * (1000 * 0.15 + 100 * 0.6) / 1e6)
    # a window that starts mid-way through the old hour keeps only the later sampled runs
    later = loaded.get(
        "/api/stats/nodes", workflow="wf-a", since=since(HOUR_AGO + timedelta(minutes=15))
    ).json()["nodes"][0]
    assert later["count"] == 2 * 4 + 1
    recent = loaded.get("/api/stats/nodes", since=since(NOW - timedelta(minutes=30))).json()
    assert {(n["workflow"], n["count"]) for n in recent["nodes"]} == {("wf-a", 1), ("wf-b", 1)}


def test_node_stats_with_empty_filters_match_nothing_instead_of_failing(
    loaded: CollectorProcess,
) -> None:
    for params in ({"service": ""}, {"workflow": ""}):
        response = loaded.get("/api/stats/nodes", **params)
        assert response.status_code == 200, response.text
        assert response.json()["nodes"] == []


def test_trace_search_filters_and_paginates(loaded: CollectorProcess) -> None:
    window = {"since": since(HOUR_AGO - timedelta(hours=1))}
    everything = loaded.get("/api/traces", **window).json()["traces"]
    assert len(everything) == 6
    starts = [t["start_time_unix_nano"] for t in everything]
    assert starts == sorted(starts, reverse=True)  # newest first
    assert [t["workflow"] for t in everything[:1]] == ["wf-b"]
    page = loaded.get("/api/traces", limit=2, offset=2, **window).json()["traces"]
    assert [t["trace_id"] for t in page] == [t["trace_id"] for t in everything[2:4]]
    errors = loaded.get("/api/traces", status="error", **window).json()["traces"]
    assert len(errors) == 1 and errors[0]["status_code"] == "Error"
    assert loaded.get("/api/traces", min_duration_ms=250, **window).json()["traces"]
    assert loaded.get("/api/traces", min_duration_ms=301, **window).json()["traces"] == []
    by_attr = loaded.get("/api/traces", attr="flowscope.workflow.name=wf-b", **window).json()
    assert [t["workflow"] for t in by_attr["traces"]] == ["wf-b"]
    one = loaded.get("/api/traces", trace_id=everything[3]["trace_id"], **window).json()
    assert [t["trace_id"] for t in one["traces"]] == [everything[3]["trace_id"]]
    assert everything[0]["cost_usd"] == pytest.approx((1000 * 0.15 + 100 * 0.6) / 1e6)
    assert everything[0]["span_count"] == 3


def test_workflow_model_and_cost_over_time_stats(loaded: CollectorProcess) -> None:
    window = {"since": since(HOUR_AGO - timedelta(hours=1))}
    workflows = {
        w["workflow"]: w for w in loaded.get("/api/stats/workflows", **window).json()["workflows"]
    }
    assert workflows["wf-a"]["runs"] == 17 and workflows["wf-a"]["errors"] == 4
    assert workflows["wf-b"]["runs"] == 1
    models = loaded.get("/api/stats/models", **window).json()["models"]
    assert [(m["provider"], m["model"], m["calls"], m["price_source"]) for m in models] == [
        ("openai", "gpt-4o-mini", 18, "genai-prices")
    ]
    points = loaded.get(
        "/api/stats/cost_over_time", bucket="hour", group_by="workflow", **window
    ).json()["points"]
    assert sum(p["calls"] for p in points) == 18
    assert {p["group"] for p in points} == {"wf-a", "wf-b"}


def test_usage_counters_give_exact_totals_next_to_span_estimates(loaded: CollectorProcess) -> None:
    usage = loaded.get("/api/stats/usage").json()
    assert usage["totals"]["calls"] == 18
    assert usage["totals"]["input_tokens"] == 17000
    assert usage["totals"]["output_tokens"] == 1700
    assert usage["totals"]["cost_usd"] == pytest.approx((17000 * 0.15 + 1700 * 0.6) / 1e6)
    assert [m["model"] for m in usage["by_model"]] == ["gpt-4o-mini"]
    assert [w["workflow"] for w in usage["by_workflow"]] == ["wf-a"]
    overview = loaded.get("/api/stats/overview", since=since(HOUR_AGO - timedelta(hours=1))).json()
    assert overview["true_calls"] == 18 and overview["true_input_tokens"] == 17000
    assert overview["estimated_input_tokens"] == 18000  # 4 x 4 + 1 + 1 sampled-up calls
    assert overview["sampled_input_tokens"] == 6000
    assert overview["runs"] == 18 and overview["errors"] == 4
    assert overview["total_cost_usd"] == overview["true_cost_usd"]


def test_span_io_returns_decoded_node_inputs_and_outputs(collector: CollectorProcess) -> None:
    trace_id, span_id = os.urandom(16), os.urandom(8)
    now = time.time_ns()
    span = Span(
        trace_id=trace_id,
        span_id=span_id,
        name="code Calc",
        start_time_unix_nano=now,
        end_time_unix_nano=now + 1000,
    )
    span.attributes.extend(
        kvs(flowscope__node__inputs='{"x": 1}', flowscope__node__outputs='{"y": [2, 3]}')
    )
    post_traces(collector, [span])
    collector.wait_drained()
    io = collector.get(f"/api/spans/{trace_id.hex()}/{span_id.hex()}/io").json()
    assert io["inputs"] == {"x": 1} and io["outputs"] == {"y": [2, 3]}
    assert io["prompt"] is None
    assert collector.get(f"/api/spans/{trace_id.hex()}/{'ab' * 8}/io").status_code == 404
