"""Trigger events: idempotent enqueue, leases, retries, replay; concurrent workers."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from workflow_core.store.errors import NotFoundError, StoreError
from workflow_core.store.redaction import REDACTED
from workflow_core.store.triggers import TriggerEventQueue


@pytest.fixture
def queue(engine: Engine) -> TriggerEventQueue:
    return TriggerEventQueue(engine)


def test_the_same_idempotency_key_is_stored_once(queue: TriggerEventQueue) -> None:
    first = queue.enqueue(
        "hook-1",
        "webhook",
        "delivery-42",
        {"body": {"n": 1}},
        headers={"Authorization": "Bearer abcdefghijkl", "X-Req": "r"},
    )
    again = queue.enqueue("hook-1", "webhook", "delivery-42", {"body": {"n": 2}})
    other_trigger = queue.enqueue("hook-2", "webhook", "delivery-42", {})
    assert first.created and not again.created and other_trigger.created
    assert again.event.id == first.event.id
    assert again.event.payload == {"body": {"n": 1}}  # verbatim: a replay needs what arrived
    assert first.event.headers == {"Authorization": REDACTED, "X-Req": "r"}
    assert len(queue.list(trigger_id="hook-1")) == 1


def test_claim_complete_and_the_lease_guard(queue: TriggerEventQueue) -> None:
    event = queue.enqueue("cron-1", "schedule", "schedule:2026-11-24T10:00:00Z", {}).event
    claimed = queue.claim("worker-a")
    assert claimed is not None and claimed.id == event.id
    assert (claimed.status, claimed.attempts, claimed.lease_owner) == ("running", 1, "worker-a")
    assert queue.claim("worker-b") is None
    assert queue.complete(event.id, "worker-b") is False
    assert queue.complete(event.id, "worker-a", run_id="run-1") is True
    done = queue.get(event.id)
    assert (done.status, done.last_run_id, done.lease_owner) == ("succeeded", "run-1", None)
    assert done.finished_at is not None
    assert queue.complete(event.id, "worker-a") is False  # at most once to completion


def test_an_expired_lease_is_taken_over_and_the_old_worker_cannot_finish(
    queue: TriggerEventQueue,
) -> None:
    event = queue.enqueue("hook", "webhook", "k", {}).event
    assert queue.claim("crashed", lease=timedelta(seconds=-1)) is not None
    taken = queue.claim("rescuer")
    assert taken is not None and taken.id == event.id and taken.attempts == 2
    assert queue.complete(event.id, "crashed") is False
    assert queue.complete(event.id, "rescuer") is True


def test_an_event_whose_worker_dies_on_every_attempt_ends_failed(queue: TriggerEventQueue) -> None:
    event = queue.enqueue("hook", "webhook", "poison", {}, max_attempts=2).event
    for worker in ("w1", "w2"):
        claimed = queue.claim(worker, lease=timedelta(seconds=-1))  # dies at once
        assert claimed is not None and claimed.id == event.id
    assert queue.claim("w3") is None
    failed = queue.get(event.id)
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert (
        failed.last_error is not None and "lease expired on the last attempt" in failed.last_error
    )


def test_failures_retry_with_back_off_then_stay_failed_until_replayed(
    queue: TriggerEventQueue,
) -> None:
    event = queue.enqueue("hook", "webhook", "k", {"x": 1}, max_attempts=2).event
    queue.claim("w")
    assert queue.fail(event.id, "w", "timeout", retry_in=timedelta(hours=1)) is True
    assert queue.get(event.id).status == "pending"
    assert queue.claim("w") is None  # backing off
    again = queue.enqueue("hook", "webhook", "k2", {}).event
    second = queue.claim("w")
    assert second is not None and second.id == again.id
    queue.complete(again.id, "w")

    retry = queue.enqueue("hook", "webhook", "k3", {}, max_attempts=2).event
    queue.claim("w")
    queue.fail(retry.id, "w", "first", retry_in=timedelta(0))
    assert queue.claim("w") is not None
    assert queue.fail(retry.id, "w", "password=hunter22 rejected") is True
    failed = queue.get(retry.id)
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.last_error == f"password={REDACTED} rejected"
    assert [e.id for e in queue.list(status="failed")] == [retry.id]
    with pytest.raises(StoreError, match="is pending; only finished events replay"):
        queue.replay(event.id)
    replayed = queue.replay(retry.id)
    assert (replayed.status, replayed.attempts) == ("pending", 0)
    assert queue.claim("w") is not None


def test_unknown_events_are_named(queue: TriggerEventQueue) -> None:
    with pytest.raises(NotFoundError, match="trigger event 'nope'"):
        queue.get("nope")


def test_concurrent_workers_claim_every_event_exactly_once(queue: TriggerEventQueue) -> None:
    events = {queue.enqueue("hook", "webhook", f"k{i}", {"i": i}).event.id for i in range(40)}
    claims: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(name: str) -> None:
        try:
            barrier.wait(timeout=60)
            while (event := queue.claim(name)) is not None:
                with lock:
                    claims[event.id] += 1
                assert queue.complete(event.id, name)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert not [t for t in threads if t.is_alive()], "a worker is blocked"
    assert not errors, errors
    assert set(claims) == events
    assert set(claims.values()) == {1}
    assert {e.status for e in queue.list(limit=100)} == {"succeeded"}
