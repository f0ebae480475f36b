"""Workers: a 202'd event becomes one succeeded run, traced from the trigger, with a callback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select
from triggers_support import (
    CALLBACK_SECRET,
    ApprovalInbox,
    approval_server,
    email_body,
    signed_headers,
    write_config,
)

import probe
from probe.settings import ProbeSettings
from workflow_core.store.models import WorkflowRun
from workflow_core.store.sql_store import SqlRunStore
from workflow_core.store.triggers import TriggerEventQueue
from workflow_core.triggers.app import create_app
from workflow_core.triggers.config import TriggersConfig, load_config
from workflow_core.triggers.delivery import TriggerDelivery, replay_event
from workflow_core.triggers.signature import sign_timestamped
from workflow_core.triggers.worker import Worker

CALLER_TRACE = "ab" * 16
CALLER_SPAN = "cd" * 8


def _setup(
    tmp_path: Path, store: SqlRunStore, callback_url: str | None = None
) -> tuple[TriggersConfig, TriggerEventQueue, TestClient, Worker]:
    config = load_config(write_config(tmp_path, callback_url=callback_url), {})
    queue = TriggerEventQueue(store.engine)
    delivery = TriggerDelivery(config, store, environ={}, sleep=lambda seconds: None)
    worker = Worker(queue, delivery, name="w1", retry_base_seconds=0)
    return config, queue, TestClient(create_app(config, queue)), worker


def _send(client: TestClient, config: TriggersConfig, body: bytes, **headers: str) -> str:
    response = client.post(
        config.webhook_path("support-email"),
        content=body,
        headers={**signed_headers(body), **headers},
    )
    assert response.status_code == 202, response.text
    event_id: str = response.json()["event_id"]
    return event_id


def _runs(store: SqlRunStore, event_id: str, status: str = "succeeded") -> int:
    stmt = select(func.count()).where(
        WorkflowRun.trigger_event_id == event_id, WorkflowRun.status == status
    )
    with store.engine.connect() as connection:
        return int(connection.execute(stmt).scalar_one())


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.uninstrument()
    assert probe.instrument(
        tracer_provider=provider,
        settings=ProbeSettings(traces_exporter="none", metrics_exporter="none"),
    )
    try:
        yield exporter
    finally:
        probe.uninstrument()
        provider.shutdown()


def test_valid_event_202_then_a_succeeded_run_traced_from_the_trigger(
    tmp_path: Path, store: SqlRunStore, spans: InMemorySpanExporter
) -> None:
    inbox = ApprovalInbox()
    with approval_server(inbox) as url:
        config, queue, client, worker = _setup(tmp_path, store, url)
        traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
        event_id = _send(client, config, email_body(), traceparent=traceparent)
        assert worker.run_once() is not None
    event = queue.get(event_id)
    assert event.status == "succeeded", event.last_error
    assert _runs(store, event_id) == 1
    assert event.last_run_id is not None

    by_name = {s.name: s for s in spans.get_finished_spans()}
    root = by_name["trigger support-email"]
    run = by_name["invoke_workflow support_reply"]
    callback = by_name["HTTP POST"]
    assert root.context is not None and run.context is not None
    assert f"{root.context.trace_id:032x}" == CALLER_TRACE
    assert root.parent is not None and f"{root.parent.span_id:016x}" == CALLER_SPAN
    assert run.parent is not None and run.parent.span_id == root.context.span_id
    assert callback.parent is not None and callback.parent.span_id == root.context.span_id
    attrs = root.attributes or {}
    assert attrs["flowscope.span.kind"] == "trigger"
    assert attrs["flowscope.trigger.type"] == "webhook"
    assert attrs["flowscope.trigger.id"] == "support-email"
    assert attrs["flowscope.trigger.event_id"] == event_id
    assert attrs["flowscope.workflow.run_id"] == event.last_run_id
    assert {s.context.trace_id for s in spans.get_finished_spans() if s.context} == {
        int(CALLER_TRACE, 16)
    }

    headers, body = inbox.received[0]
    expected = sign_timestamped(CALLBACK_SECRET, int(headers["x-flowscope-timestamp"]), body)
    assert headers["x-flowscope-signature"] == expected
    assert headers["idempotency-key"] == event_id
    assert "traceparent" in headers
    result = json.loads(body)
    assert result["run_id"] == event.last_run_id and result["status"] == "succeeded"
    assert result["outputs"]["category"] in ("refund", "technical", "general")
    assert result["outputs"]["draft"]


def test_without_traceparent_the_trigger_span_is_the_root(
    tmp_path: Path, store: SqlRunStore, spans: InMemorySpanExporter
) -> None:
    config, _, client, worker = _setup(tmp_path, store)
    _send(client, config, email_body())
    worker.run_once()
    by_name = {s.name: s for s in spans.get_finished_spans()}
    root = by_name["trigger support-email"]
    assert root.parent is None
    run = by_name["invoke_workflow support_reply"]
    assert root.context is not None and run.parent is not None
    assert run.parent.span_id == root.context.span_id


def test_callback_is_retried_until_accepted(tmp_path: Path, store: SqlRunStore) -> None:
    inbox = ApprovalInbox(fail_first=2)
    with approval_server(inbox) as url:
        config, queue, client, worker = _setup(tmp_path, store, url)
        event_id = _send(client, config, email_body())
        worker.run_once()
    assert inbox.calls == 3 and len(inbox.received) == 1
    assert queue.get(event_id).status == "succeeded"


def test_failed_callback_retries_the_event_without_running_the_workflow_again(
    tmp_path: Path, store: SqlRunStore
) -> None:
    inbox = ApprovalInbox(fail_first=3)  # the delivery's 3 callback attempts all fail
    with approval_server(inbox) as url:
        config, queue, client, worker = _setup(tmp_path, store, url)
        event_id = _send(client, config, email_body())
        worker.run_once()
        event = queue.get(event_id)
        assert event.status == "pending" and "callback" in (event.last_error or "")
        worker.run_once()  # retry_base_seconds=0: due at once
    assert queue.get(event_id).status == "succeeded"
    assert _runs(store, event_id) == 1
    assert len(inbox.received) == 1


def test_crash_after_the_run_redelivers_without_a_second_run(
    tmp_path: Path, store: SqlRunStore
) -> None:
    config, queue, client, worker = _setup(tmp_path, store)
    event_id = _send(client, config, email_body())
    # A worker that dies after the run finished but before marking the event done:
    dying = queue.claim("dead-worker", lease=timedelta(seconds=0))
    assert dying is not None
    outcome = worker.delivery.deliver(dying)
    assert outcome.ok and _runs(store, event_id) == 1
    time.sleep(0.01)  # the lease expires
    event = worker.run_once()
    assert event is not None and event.id == event_id and event.attempts == 2
    assert queue.get(event_id).status == "succeeded"
    assert _runs(store, event_id) == 1
    assert queue.get(event_id).last_run_id == outcome.run_id


def test_failing_runs_are_retried_then_stay_failed_and_replay_runs_again(
    tmp_path: Path, store: SqlRunStore
) -> None:
    config, queue, client, worker = _setup(tmp_path, store)
    body = json.dumps({"from": "x@y.z", "subject": "s", "message": {"text": "t"}}).encode()
    event_id = _send(client, config, body)
    workflow = config.triggers["support-email"].workflow
    saved = workflow.read_bytes()
    broken = tmp_path / "broken.yml"
    broken.write_text("app: {name: broken, mode: workflow}\nkind: app\nworkflow: {graph: {}}\n")
    config.triggers["support-email"] = config.triggers["support-email"].model_copy(
        update={"workflow": broken}
    )
    for _ in range(3):
        worker.run_once()
    event = queue.get(event_id)
    assert event.status == "failed" and event.attempts == 3
    assert "broken.yml" in (event.last_error or "")
    assert [e.id for e in queue.list(status="failed")] == [event_id]

    config.triggers["support-email"] = config.triggers["support-email"].model_copy(
        update={"workflow": workflow}
    )
    assert workflow.read_bytes() == saved
    replay_event(queue, event_id)
    worker.run_once()
    assert queue.get(event_id).status == "succeeded"
    assert _runs(store, event_id) == 1
    replay_event(queue, event_id)  # a replay of a succeeded event runs it once more
    worker.run_once()
    assert _runs(store, event_id) == 2


def test_events_cli_lists_failed_events_and_replays(
    tmp_path: Path, store: SqlRunStore, db_url: str
) -> None:
    queue = TriggerEventQueue(store.engine)
    enqueued = queue.enqueue("support-email", "webhook", "k1", {"inputs": {}}, max_attempts=1)
    claimed = queue.claim("w")
    assert claimed is not None
    queue.fail(enqueued.event.id, "w", "boom: the model is down")
    env = {"FLOWSCOPE_DATABASE_URL": db_url, "PATH": str(Path(sys.executable).parent)}
    flowscope = str(Path(sys.executable).parent / "flowscope")
    listed = subprocess.run(
        [flowscope, "events", "list", "--status", "failed", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    row = json.loads(listed.stdout.strip().splitlines()[-1])
    assert row["event_id"] == enqueued.event.id and row["error"] == "boom: the model is down"
    replayed = subprocess.run(
        [flowscope, "events", "replay", enqueued.event.id],
        capture_output=True,
        text=True,
        env=env,
    )
    assert replayed.returncode == 0, replayed.stderr
    assert queue.get(enqueued.event.id).status == "pending"
    again = subprocess.run(
        [flowscope, "events", "replay", "no-such-event"], capture_output=True, text=True, env=env
    )
    assert again.returncode == 2 and "no-such-event" in again.stderr
