"""Exported log records never carry credentials (``OTEL_LOGS_EXPORTER=otlp``).

End to end: the probe's own log pipeline exports to a real collector, and the stored records are
read back; the processor alone: the stock SDK logger with an in-memory exporter behind it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

import probe
from probe import guard
from probe.export import RedactingLogProcessor
from probe.redaction import REDACTED, Redactor
from probe.settings import ProbeSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collector"))

from collector_harness import CollectorProcess

app_logger = logging.getLogger("tests.probe.app")

SECRETS = (
    "abcdefgh12345678",  # a bearer token in the message
    "sk-" + "A" * 24,  # an OpenAI-style key, as a %s argument
    "plain-secret-value",  # under a credential-named attribute
    "tok-123456789",  # under a *_token attribute
    "acct-123456",  # a FLOWSCOPE_REDACT_PATTERNS match inside a list attribute
    "hunter2hunter2",  # in an exception message, hence in exception.message / stacktrace
    "acct-654321",  # a custom pattern match in the body of log.exception
)


def _log_everything() -> None:
    app_logger.warning(
        "calling with Authorization: Bearer abcdefgh12345678 and key %s",
        SECRETS[1],
        extra={
            "api_key": "plain-secret-value",
            "user_token": "tok-123456789",
            "tags": ["acct-123456", "kept-tag"],
            "order": 7,
        },
    )
    try:
        raise ValueError("login failed: password=hunter2hunter2")
    except ValueError:
        app_logger.exception("request for acct-654321 failed")


@pytest.mark.e2e
def test_records_stored_by_the_collector_hold_no_credential(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector").start()
    try:
        probe.uninstrument()
        settings = ProbeSettings(
            endpoint=collector.url, service_name="probe-log-redaction", logs_exporter="otlp",
            redact_patterns=(r"acct-\d{6}",), export_timeout_s=5.0, shutdown_timeout_ms=10000,
        )  # fmt: skip
        assert probe.instrument(settings=settings)
        try:
            _log_everything()
        finally:
            probe.uninstrument()
        collector.wait_drained()
        page = collector.get("/api/logs", service="probe-log-redaction").json()
        records = [r for r in page["logs"] if r["scope"]["name"] == "tests.probe.app"]
        assert len(records) == 2
        stored = json.dumps(records)
        for secret in SECRETS:
            assert secret not in stored, secret
        warning = next(r for r in records if r["severity_number"] == 13)
        assert warning["attributes"]["api_key"] == REDACTED
        assert warning["attributes"]["user_token"] == REDACTED
        assert warning["attributes"]["order"] == "7"  # non-secret values are kept as they are
        assert "kept-tag" in warning["attributes"]["tags"]
        assert warning["body"] == f"calling with Authorization: {REDACTED} and key {REDACTED}"
        failed = next(r for r in records if r["severity_number"] == 17)
        assert failed["body"] == f"request for {REDACTED} failed"
        assert "ValueError" in failed["attributes"]["exception.stacktrace"]
    finally:
        collector.stop()


@pytest.fixture
def exported() -> Iterator[tuple[InMemoryLogRecordExporter, Redactor]]:
    """The stock SDK logger: the redacting processor ahead of an in-memory exporter."""
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    redactor = Redactor()
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(RedactingLogProcessor(redactor))  # type: ignore[arg-type]
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    handler = LoggingHandler(logger_provider=provider)
    logger = logging.getLogger("tests.probe.redacted")
    logger.addHandler(handler)
    try:
        yield memory, redactor
    finally:
        logger.removeHandler(handler)
        provider.shutdown()


def _bodies(memory: InMemoryLogRecordExporter) -> list[Any]:
    return [data.log_record.body for data in memory.get_finished_logs()]


def test_a_secret_seen_in_a_captured_payload_is_scrubbed_from_later_logs(
    exported: tuple[InMemoryLogRecordExporter, Redactor],
) -> None:
    memory, redactor = exported
    # a node's captured inputs held this key under a credential name: the redactor remembers it
    redactor.capture({"config": {"api_key": "remembered-value-42"}})
    logging.getLogger("tests.probe.redacted").warning("upstream echoed remembered-value-42 back")
    assert _bodies(memory) == [f"upstream echoed {REDACTED} back"]


def test_long_bodies_are_scrubbed_whole_not_cut(
    exported: tuple[InMemoryLogRecordExporter, Redactor],
) -> None:
    memory, _ = exported
    tail = "token=late-secret-value"
    logging.getLogger("tests.probe.redacted").warning("x" * 20_000 + tail)
    (body,) = _bodies(memory)
    assert len(body) == 20_000 + len("token=") + len(REDACTED)
    assert body.endswith(f"token={REDACTED}")


def test_a_failing_scrub_drops_the_content_and_is_counted(
    exported: tuple[InMemoryLogRecordExporter, Redactor], monkeypatch: pytest.MonkeyPatch
) -> None:
    memory, redactor = exported

    def broken(text: str, *, whole: bool = False) -> str:
        raise RuntimeError("scrubber broke")

    monkeypatch.setattr(redactor, "scrub", broken)
    before = guard.error_counts().get("log export (redaction)", 0)
    logging.getLogger("tests.probe.redacted").warning("password=never-sent-1234")
    assert _bodies(memory)[0] == REDACTED  # dropped content, never the unscrubbed text
    assert guard.error_counts()["log export (redaction)"] == before + 1
