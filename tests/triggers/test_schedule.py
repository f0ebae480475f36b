"""Schedules under a controllable clock: on time, catch-up per policy, one run per slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from triggers_support import open_store, write_config

from workflow_core.store.models import WorkflowRun
from workflow_core.store.sql_store import SqlRunStore
from workflow_core.store.triggers import TriggerEventQueue
from workflow_core.triggers.config import ScheduleTrigger, TriggersConfig, load_config
from workflow_core.triggers.delivery import TriggerDelivery
from workflow_core.triggers.schedule import Scheduler, latest_slot, slot_key
from workflow_core.triggers.worker import Worker

INPUTS = {"sender": "cron@example.com", "subject": "digest", "body": "daily digest"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def set(self, value: datetime) -> None:
        with self.lock:
            self.now = value


def _schedule(**fields: object) -> dict[str, object]:
    return {
        "id": "every-5-min",
        "type": "schedule",
        "workflow": "UNUSED",
        "cron": "*/5 * * * *",
        "inputs": INPUTS,
        **fields,
    }


def _config(tmp_path: Path, **fields: object) -> TriggersConfig:
    path = write_config(tmp_path, schedules=[_schedule(**fields)])
    text = path.read_text().replace("workflow: UNUSED", "workflow: support_reply.yml")
    (tmp_path / "support_reply.yml").write_bytes(
        (Path(__file__).parents[2] / "examples/support_webhook/support_reply.yml").read_bytes()
    )
    path.write_text(text)
    return load_config(path, {})


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _slots(queue: TriggerEventQueue) -> list[str]:
    return sorted(e.idempotency_key for e in queue.list(trigger_id="every-5-min"))


@pytest.fixture
def clock() -> Clock:
    return Clock(_at("2026-11-24T10:00:10"))


def test_cron_fires_on_time_once_per_slot(
    tmp_path: Path, queue: TriggerEventQueue, clock: Clock
) -> None:
    scheduler = Scheduler(_config(tmp_path).schedules(), queue, clock=clock)
    assert [e.created for e in scheduler.tick()] == [True]
    assert scheduler.tick() == []  # same slot: nothing new
    clock.set(_at("2026-11-24T10:04:59"))
    assert scheduler.tick() == []
    clock.set(_at("2026-11-24T10:05:00"))
    assert len(scheduler.tick()) == 1
    assert _slots(queue) == ["schedule:2026-11-24T10:00:00Z", "schedule:2026-11-24T10:05:00Z"]
    event = queue.list(trigger_id="every-5-min")[0]
    assert event.payload["inputs"] == INPUTS and event.payload["late"] is False


def test_time_zone_of_the_cron_expression(tmp_path: Path) -> None:
    trigger = _config(tmp_path, cron="0 9 * * *", timezone="Europe/Berlin").schedules()[0]
    winter = latest_slot(trigger, _at("2026-11-24T08:00:30"))  # 09:00:30 in Berlin (CET)
    summer = latest_slot(trigger, _at("2026-07-01T07:00:30"))  # 09:00:30 in Berlin (CEST)
    assert slot_key(winter) == "schedule:2026-11-24T08:00:00Z"
    assert slot_key(summer) == "schedule:2026-07-01T07:00:00Z"


def test_missed_slots_are_skipped_with_policy_skip(
    tmp_path: Path, queue: TriggerEventQueue, clock: Clock
) -> None:
    scheduler = Scheduler(_config(tmp_path, missed="skip").schedules(), queue, clock=clock)
    scheduler.tick()  # 10:00 on time
    clock.set(_at("2026-11-24T10:27:00"))  # down from 10:01 to 10:27: 10:05 … 10:25 missed
    assert scheduler.tick() == []
    clock.set(_at("2026-11-24T10:30:20"))
    scheduler.tick()
    assert _slots(queue) == ["schedule:2026-11-24T10:00:00Z", "schedule:2026-11-24T10:30:00Z"]


def test_missed_slots_run_once_with_policy_run_once(
    tmp_path: Path, queue: TriggerEventQueue, clock: Clock
) -> None:
    scheduler = Scheduler(_config(tmp_path, missed="run_once").schedules(), queue, clock=clock)
    scheduler.tick()
    clock.set(_at("2026-11-24T10:27:00"))
    caught_up = scheduler.tick()
    assert len(caught_up) == 1 and caught_up[0].event.payload["late"] is True
    assert scheduler.tick() == []  # once, not once per missed slot
    clock.set(_at("2026-11-24T10:30:01"))
    scheduler.tick()
    assert _slots(queue) == [
        "schedule:2026-11-24T10:00:00Z",
        "schedule:2026-11-24T10:25:00Z",
        "schedule:2026-11-24T10:30:00Z",
    ]


def test_first_start_does_not_catch_up_before_it_existed(
    tmp_path: Path, queue: TriggerEventQueue
) -> None:
    late = Clock(_at("2026-11-24T10:03:00"))
    scheduler = Scheduler(_config(tmp_path, missed="run_once").schedules(), queue, clock=late)
    assert scheduler.tick() == []


@pytest.fixture
def shared_store(any_db_url: str) -> Iterator[SqlRunStore]:
    store = open_store(any_db_url)
    yield store
    store.engine.dispose()


def test_two_instances_never_run_the_same_slot_twice(
    tmp_path: Path, shared_store: SqlRunStore, clock: Clock
) -> None:
    """Two service instances (own scheduler, own workers, own connections) on one database."""
    config = _config(tmp_path, missed="run_once")
    instances = []
    stores: list[SqlRunStore] = []
    for name in ("a", "b"):
        store = open_store(shared_store.engine.url.render_as_string(hide_password=False))
        stores.append(store)
        queue = TriggerEventQueue(store.engine)
        delivery = TriggerDelivery(config, store, environ={})
        workers = [
            Worker(queue, delivery, name=f"{name}{i}", retry_base_seconds=0) for i in range(2)
        ]
        instances.append((Scheduler(config.schedules(), queue, clock=clock), workers))

    stop = threading.Event()
    threads = [
        threading.Thread(target=worker.loop, args=(stop, 0.01))
        for _, workers in instances
        for worker in workers
    ]
    for thread in threads:
        thread.start()
    try:
        start = _at("2026-11-24T10:00:10")
        for step in range(8):  # 10:00 … 10:35, both instances tick at every step
            clock.set(start + timedelta(minutes=5 * step))
            ticks = [threading.Thread(target=s.tick) for s, _ in instances]
            for t in ticks:
                t.start()
            for t in ticks:
                t.join()
        queue = TriggerEventQueue(shared_store.engine)
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while datetime.now(UTC) < deadline:
            if all(e.status == "succeeded" for e in queue.list(trigger_id="every-5-min")):
                break
            stop.wait(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for store in stores:
            store.engine.dispose()
    events = queue.list(trigger_id="every-5-min")
    assert len(events) == 8
    assert all(e.status == "succeeded" for e in events)
    with shared_store.engine.connect() as connection:
        per_event = dict(
            connection.execute(
                select(WorkflowRun.trigger_event_id, func.count())
                .where(WorkflowRun.trigger_event_id.is_not(None))
                .group_by(WorkflowRun.trigger_event_id)
            ).all()
        )
    assert per_event == {e.id: 1 for e in events}


def test_schedule_config_errors_name_the_field(tmp_path: Path) -> None:
    from workflow_core.triggers.errors import TriggerConfigError

    with pytest.raises(TriggerConfigError, match=r"cron.*not a valid cron"):
        _config(tmp_path, cron="every day")
    with pytest.raises(TriggerConfigError, match=r"timezone.*Mars/Olympus"):
        _config(tmp_path, timezone="Mars/Olympus")
    assert isinstance(_config(tmp_path).schedules()[0], ScheduleTrigger)
