"""Usage metrics: every LLM call reaches an OTLP/HTTP receiver as exact cumulative counters."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_CUMULATIVE
from opentelemetry.sdk.resources import Resource

from probe.sampling import usage


class Receiver:
    """A local OTLP/HTTP metrics endpoint (protobuf), on a free loopback port."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, ExportMetricsServiceRequest]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                receiver.requests.append((self.path, request))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def latest(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], int]:
        """Last cumulative value per (metric, attributes), checking temporality on the way."""
        totals: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        for _, request in self.requests:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        assert (
                            metric.sum.aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE
                        )
                        assert metric.sum.is_monotonic
                        for point in metric.sum.data_points:
                            attrs = tuple(
                                sorted((a.key, a.value.string_value) for a in point.attributes)
                            )
                            totals[(metric.name, attrs)] = point.as_int
        return totals

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    usage.shutdown()
    server.close()


def call(**overrides: Any) -> None:
    args: dict[str, Any] = {
        "workflow": "SEO_Slug_Generator",
        "node_id": "1711067409646",
        "node_type": "llm",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 120,
        "output_tokens": 30,
        "cached_input_tokens": 0,
    }
    args.update(overrides)
    usage.record_llm_usage(**args)


def test_every_llm_call_is_counted_exactly_per_token_type(receiver: Receiver) -> None:
    usage.install_meter_provider(
        receiver.url, Resource.create({"service.name": "svc"}), export_interval_ms=60_000
    )
    for _ in range(1000):
        call()
    call(input_tokens=50, output_tokens=5, cached_input_tokens=40)
    usage.force_flush()
    totals = receiver.latest()
    base = (
        ("flowscope.node.id", "1711067409646"),
        ("flowscope.node.type", "llm"),
        ("flowscope.workflow.name", "SEO_Slug_Generator"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", "gpt-4o-mini"),
    )

    def tokens(kind: str) -> int:
        return totals[("flowscope.llm.tokens", tuple(sorted((*base, ("gen_ai.token.type", kind)))))]

    assert totals[("flowscope.llm.calls", base)] == 1001
    assert tokens("input") == 120 * 1000 + 50
    assert tokens("output") == 30 * 1000 + 5
    assert tokens("cache_read") == 40
    assert {path for path, _ in receiver.requests} == {"/v1/metrics"}


def test_resource_carries_service_name_and_an_instance_id(receiver: Receiver) -> None:
    usage.install_meter_provider(receiver.url, Resource.create({"service.name": "svc"}))
    call()
    usage.shutdown()  # shutdown flushes the final totals
    resource = {
        a.key: a.value.string_value
        for a in receiver.requests[-1][1].resource_metrics[0].resource.attributes
    }
    assert resource["service.name"] == "svc"
    assert len(resource["service.instance.id"]) == 36


def test_unknown_attributes_are_omitted_not_recorded_as_none(receiver: Receiver) -> None:
    usage.install_meter_provider(receiver.url, Resource.create({"service.name": "svc"}))
    call(node_id=None, provider=None, cached_input_tokens=None)
    usage.force_flush()
    keys = {
        key
        for (name, attrs) in receiver.latest()
        for key, _ in attrs
        if name == "flowscope.llm.calls"
    }
    assert keys == {"flowscope.workflow.name", "flowscope.node.type", "gen_ai.request.model"}


def test_metrics_endpoint_appends_the_signal_path() -> None:
    assert usage.metrics_endpoint("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/metrics"
    assert usage.metrics_endpoint("http://h:1/v1/metrics") == "http://h:1/v1/metrics"
    assert usage.metrics_endpoint(None) == "http://127.0.0.1:4318/v1/metrics"


def test_recording_without_a_provider_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    usage.shutdown()
    with caplog.at_level(logging.WARNING, logger="probe.sampling.usage"):
        call(input_tokens="not a number")  # a broken provider's value: logged once, not raised
        call(input_tokens="not a number")
        call()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "cannot record an LLM call (ValueError" in warnings[0]


def test_collector_down_does_not_raise_into_the_host() -> None:
    usage.install_meter_provider(
        "http://127.0.0.1:9", export_interval_ms=60_000, export_timeout_s=1
    )
    call()
    usage.force_flush(timeout_ms=2_000)  # the exporter logs the failure; nothing is raised
    usage.shutdown(timeout_ms=2_000)
    assert usage.force_flush() is True  # after shutdown: nothing installed, nothing to flush
