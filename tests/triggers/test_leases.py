"""Leases and idempotency on SQLite and the real PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from triggers_support import open_store, write_config

from workflow_core.store.models import WorkflowRun
from workflow_core.store.sql_store import SqlRunStore
from workflow_core.store.triggers import TriggerEventQueue
from workflow_core.triggers.config import load_config
from workflow_core.triggers.delivery import TriggerDelivery
from workflow_core.triggers.worker import Worker

INPUTS = {"inputs": {"sender": "a@b.c", "subject": "s", "body": "b"}}


@pytest.fixture
def any_store(any_db_url: str) -> Iterator[SqlRunStore]:
    store = open_store(any_db_url)
    yield store
    store.engine.dispose()


def _runs(store: SqlRunStore, event_id: str) -> int:
    stmt = select(func.count()).where(
        WorkflowRun.trigger_event_id == event_id, WorkflowRun.status == "succeeded"
    )
    with store.engine.connect() as connection:
        return int(connection.execute(stmt).scalar_one())


def test_same_key_from_two_threads_is_stored_once(any_store: SqlRunStore) -> None:
    queue = TriggerEventQueue(any_store.engine)
    results = []
    barrier = threading.Barrier(4)

    def enqueue() -> None:
        barrier.wait()
        results.append(queue.enqueue("support-email", "webhook", "mail-1", INPUTS))

    threads = [threading.Thread(target=enqueue) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.event.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len(queue.list()) == 1


def test_a_long_run_keeps_its_lease_and_is_not_run_twice(
    tmp_path: Path, any_store: SqlRunStore
) -> None:
    config = load_config(write_config(tmp_path), {})
    queue = TriggerEventQueue(any_store.engine)
    slow = TriggerDelivery(config, any_store, environ={"FLOWSCOPE_SIM_LATENCY_MS": "1500"})
    lease = timedelta(seconds=1)
    event_id = queue.enqueue("support-email", "webhook", "k", INPUTS).event.id
    worker = Worker(queue, slow, name="slow", lease=lease)
    running = threading.Thread(target=worker.run_once)
    running.start()
    while queue.get(event_id).lease_owner != "slow":  # the thief starts once the run has it
        assert running.is_alive()
        time.sleep(0.01)
    stolen = []
    while running.is_alive():  # the run takes ~3 s, three leases long
        if (other := queue.claim("thief", lease=lease)) is not None:
            stolen.append(other.id)
        time.sleep(0.05)
    running.join()
    assert stolen == []
    assert queue.get(event_id).status == "succeeded"
    assert _runs(any_store, event_id) == 1


def test_a_dead_workers_event_is_redelivered_and_run_once(
    tmp_path: Path, any_store: SqlRunStore
) -> None:
    config = load_config(write_config(tmp_path), {})
    queue = TriggerEventQueue(any_store.engine)
    delivery = TriggerDelivery(config, any_store, environ={})
    event_id = queue.enqueue("support-email", "webhook", "k", INPUTS).event.id
    dead = queue.claim("dead", lease=timedelta(milliseconds=50))
    assert dead is not None
    assert delivery.deliver(dead).ok  # ran to the end, then the process died
    time.sleep(0.1)
    Worker(queue, delivery, name="alive").run_once()
    event = queue.get(event_id)
    assert event.status == "succeeded" and event.attempts == 2
    assert _runs(any_store, event_id) == 1
    assert not queue.complete(event_id, "dead")  # the dead worker cannot complete it later
