"""Zero event loss with real processes: kill -9 the service mid-way, restart, count the runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from triggers_support import (
    Service,
    email_body,
    free_port,
    open_store,
    signed_headers,
    write_config,
)

from workflow_core.store.models import WorkflowRun
from workflow_core.store.triggers import TriggerEventQueue
from workflow_core.triggers.config import load_config

N_EVENTS = 30
KILL_AFTER = 12


@pytest.fixture
def service(tmp_path: Path, db_url: str) -> Iterator[Service]:
    env = {
        "FLOWSCOPE_SIM_LATENCY_MS": "60",
        "FLOWSCOPE_TRIGGER_LEASE_SECONDS": "3",
        "FLOWSCOPE_TRIGGER_RETRY_SECONDS": "0.2",
    }
    svc = Service(write_config(tmp_path), db_url, free_port(), tmp_path / "serve.log", env=env)
    try:
        yield svc
    finally:
        svc.stop()


def test_every_acknowledged_event_completes_exactly_once_across_kill_9(
    tmp_path: Path, db_url: str, service: Service
) -> None:
    config = load_config(tmp_path / "triggers.yaml", {})
    url = service.base + config.webhook_path("support-email")
    acked: dict[str, str] = {}  # idempotency key -> event id

    def send(key: str) -> None:
        body = email_body(subject=f"order {key}")
        headers = {**signed_headers(body), "Idempotency-Key": key}
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=5)
        except httpx.HTTPError:
            return  # not acknowledged: the sender would retry
        if response.status_code == 202:
            acked[key] = response.json()["event_id"]

    service.start()
    store = open_store(db_url)
    queue = TriggerEventQueue(store.engine)
    keys = [f"mail-{i}" for i in range(N_EVENTS)]
    for key in keys[:KILL_AFTER]:
        send(key)
    assert len(acked) == KILL_AFTER
    # Kill while a run is in flight: wait until the store shows one (a run takes well over the
    # 10 ms between looks: every LLM call alone is delayed 60 ms), then kill at once.
    deadline = time.monotonic() + 30
    while not any(e.status == "running" for e in queue.list()):
        assert time.monotonic() < deadline, "no run was ever seen in flight"
        time.sleep(0.01)
    service.kill9()  # workers are mid-run: the backlog is pending / running

    unfinished = [e for e in queue.list() if e.status != "succeeded"]
    interrupted = [e.id for e in unfinished if e.status == "running"]
    assert interrupted, "the kill came when no run was in flight"
    for key in keys[KILL_AFTER : KILL_AFTER + 3]:
        send(key)  # the service is down: refused, never acknowledged
    assert len(acked) == KILL_AFTER

    service.start()
    for key in keys[KILL_AFTER:]:
        send(key)
    send(keys[0])  # a re-delivery of an acknowledged event changes nothing
    assert len(acked) == N_EVENTS

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = {queue.get(event_id).status for event_id in acked.values()}
        if statuses == {"succeeded"}:
            break
        time.sleep(0.25)
    assert {queue.get(event_id).status for event_id in acked.values()} == {"succeeded"}
    with store.engine.connect() as connection:
        succeeded = dict(
            connection.execute(
                select(WorkflowRun.trigger_event_id, func.count())
                .where(WorkflowRun.status == "succeeded")
                .group_by(WorkflowRun.trigger_event_id)
            ).all()
        )
    assert succeeded == {event_id: 1 for event_id in acked.values()}
    assert all(queue.get(event_id).attempts >= 2 for event_id in interrupted)
    assert len(queue.list(limit=1000)) == N_EVENTS
    store.engine.dispose()


def test_serve_refuses_inputs_the_workflow_does_not_declare(tmp_path: Path, db_url: str) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace("priority:", "urgency:"))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "flowscope"), "serve", str(path), "--port", "1"],
        env={**os.environ, "FLOWSCOPE_DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "trigger support-email: inputs ['urgency'] are not declared" in done.stderr
