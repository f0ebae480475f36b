"""Log records carry trace/span ids; an unreachable collector never blocks and drops are counted."""

from __future__ import annotations

import logging
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from otlp_receiver import otlp_receiver
from probe_support import ScriptedFailureLLM, Traced, parallel_iteration_app, runner

import probe
from probe.settings import ProbeSettings
from workflow_core.providers.base import LLMRequest, LLMResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collector"))

from collector_harness import CollectorProcess

provider_logger = logging.getLogger("tests.probe.provider")


class LoggingLLM(ScriptedFailureLLM):
    def _invoke(self, request: LLMRequest) -> LLMResponse:
        provider_logger.warning("calling the model for %s", request.node_id)
        return super()._invoke(request)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected() -> Any:
    handler = Collect()
    provider_logger.addHandler(handler)
    try:
        yield handler
    finally:
        provider_logger.removeHandler(handler)


def test_records_emitted_inside_a_span_carry_its_trace_and_span_ids(
    traced: Traced, collected: Collect
) -> None:
    runner(parallel_iteration_app(), LoggingLLM({})).run({"topic": "t"})
    chats = {s.context.span_id: s for s in traced.by_name("chat gpt-4o-mini")}
    assert len(collected.records) == len(chats) == 2
    for record in collected.records:
        span = chats[int(record.span_id, 16)]  # type: ignore[attr-defined]
        assert record.trace_id == format(span.context.trace_id, "032x")  # type: ignore[attr-defined]
        assert record.otelSpanID == record.span_id  # type: ignore[attr-defined]
    formatted = logging.Formatter("%(trace_id)s %(span_id)s %(message)s").format(
        collected.records[0]
    )
    assert formatted.startswith(collected.records[0].trace_id)  # type: ignore[attr-defined]


def test_records_outside_spans_have_zero_ids_and_uninstrument_restores_factory(
    traced: Traced, collected: Collect
) -> None:
    provider_logger.warning("outside")
    assert collected.records[-1].trace_id == "0"  # type: ignore[attr-defined]
    probe.uninstrument()
    provider_logger.warning("after")
    assert not hasattr(collected.records[-1], "trace_id")


def _dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


def _settings(endpoint: str) -> ProbeSettings:
    return ProbeSettings(
        endpoint=endpoint,
        metrics_exporter="none",
        export_timeout_s=1.0,
        shutdown_timeout_ms=1500,
    )


def test_unreachable_collector_drops_are_counted_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    probe.uninstrument()
    assert probe.instrument(settings=_settings(_dead_endpoint()))
    try:
        for _ in range(5):
            assert (
                runner(parallel_iteration_app(), ScriptedFailureLLM({})).run({"topic": "t"}).status
                == "succeeded"
            )
    finally:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="probe"):
            probe.uninstrument()
        shutdown_s = time.monotonic() - started
    stats = probe.stats()
    assert stats["spans_ended"] == 5 * 15  # root, 9 nodes, 2 rounds, code, 2 llm calls per run
    assert stats["spans_exported"] == 0
    assert stats["spans_dropped"] == stats["spans_ended"]
    assert shutdown_s < 10  # bounded by FLOWSCOPE_SHUTDOWN_TIMEOUT_MS per exporter
    lines = [r.getMessage() for r in caplog.records if "were not delivered" in r.getMessage()]
    assert len(lines) == 1
    assert f"{stats['spans_dropped']} of {stats['spans_ended']} spans" in lines[0]


def test_reachable_collector_gets_every_span_and_nothing_is_dropped() -> None:
    with otlp_receiver() as receiver:
        probe.uninstrument()
        assert probe.instrument(settings=_settings(receiver.url))
        try:
            runner(parallel_iteration_app(), ScriptedFailureLLM({})).run({"topic": "t"})
        finally:
            probe.uninstrument()
        stats = probe.stats()
        assert stats["spans_ended"] == 15
        assert stats["spans_exported"] == 15
        assert stats["spans_dropped"] == 0
        assert len(receiver.wait_for(15)) == 15


def test_full_queue_drops_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")
    probe.uninstrument()
    assert probe.instrument(settings=_settings(_dead_endpoint()))
    try:
        runner(parallel_iteration_app(), ScriptedFailureLLM({})).run({"topic": "t"})
        live = probe.stats()
    finally:
        probe.uninstrument()
    assert live["spans_queue_full"] > 0
    assert probe.stats()["spans_dropped"] == 15


def test_optional_log_export_and_span_counter_metric_reach_the_collector(
    collected: Collect,
) -> None:
    with otlp_receiver() as receiver:
        probe.uninstrument()
        settings = ProbeSettings(
            endpoint=receiver.url, logs_exporter="otlp", export_timeout_s=2.0,
            shutdown_timeout_ms=5000,
        )  # fmt: skip
        assert probe.instrument(settings=settings)
        try:
            runner(parallel_iteration_app(), LoggingLLM({})).run({"topic": "t"})
        finally:
            probe.uninstrument()
        spans = receiver.wait_for(15)
        assert "flowscope.probe.spans" in receiver.metric_names
        assert "flowscope.llm.tokens" in receiver.metric_names  # the usage counters, same path
        messages = [(body, attrs) for body, attrs in receiver.log_bodies if "calling" in str(body)]
        assert len(messages) == 2
        chat_ids = {s.span_id for s in spans if s.name == "chat gpt-4o-mini"}
        assert len(chat_ids) == 2
    # The handler was removed with the probe: nothing is exported twice, nothing left behind.
    assert not any(type(h).__name__ == "LoggingHandler" for h in logging.getLogger().handlers)


@pytest.mark.e2e
def test_exported_log_records_are_stored_by_the_collector_under_their_spans(
    tmp_path: Path, collected: Collect
) -> None:
    """The default endpoint serves logs too: the probe's records land in ``otel_logs`` and the
    read API returns them under the trace, each with the id of the LLM span it was made in."""
    collector = CollectorProcess(tmp_path / "collector").start()
    try:
        probe.uninstrument()
        settings = ProbeSettings(
            endpoint=collector.url, service_name="probe-logs", logs_exporter="otlp",
            export_timeout_s=5.0,
            shutdown_timeout_ms=10000,
        )  # fmt: skip
        assert probe.instrument(settings=settings)
        try:
            runner(parallel_iteration_app(), LoggingLLM({})).run({"topic": "t"})
        finally:
            probe.uninstrument()
        assert probe.stats()["spans_dropped"] == 0
        collector.wait_drained()
        (summary,) = collector.get("/api/traces", service="probe-logs").json()["traces"]
        trace = collector.get(f"/api/traces/{summary['trace_id']}").json()
        chat_ids = {s["span_id"] for s in trace["spans"] if s["name"] == "chat gpt-4o-mini"}
        logs = collector.get(f"/api/traces/{summary['trace_id']}/logs").json()["logs"]
        calls = [r for r in logs if r["body"].startswith("calling the model for")]
        assert len(calls) == 2 and {r["span_id"] for r in calls} == chat_ids
        assert all(r["severity_number"] == 13 for r in calls)  # WARN
        assert collector.health()["log_records_stored"] >= 2
    finally:
        collector.stop()
