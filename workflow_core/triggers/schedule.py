"""Schedule triggers: enqueue each due cron slot once, whichever instance sees it first.

A slot is stored with the idempotency key ``schedule:<slot, UTC ISO>``; the run store's unique
``(trigger_id, idempotency_key)`` makes two instances enqueueing the same slot store it once, and
the event's lease makes one worker run it.

Missed slots (the service was down): the slot that is due *now* is the newest slot at or before
the clock. If it is at most ``grace_seconds`` old it is on time and runs. If it is older, slots
were missed: ``skip`` runs none of them (the next on-time slot runs), ``run_once`` runs the
newest missed slot once (never one per missed slot).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import func, select

from workflow_core.store.models import TriggerEvent
from workflow_core.store.triggers import Enqueued, TriggerEventQueue
from workflow_core.triggers.config import ScheduleTrigger

logger = logging.getLogger(__name__)

KEY_PREFIX = "schedule:"
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def slot_key(slot: datetime) -> str:
    """``schedule:2026-11-24T03:00:00Z`` (UTC, fixed width: keys sort like times)."""
    return KEY_PREFIX + slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def latest_slot(trigger: ScheduleTrigger, now: datetime) -> datetime:
    """The newest cron slot at or before ``now``, in the trigger's time zone (aware)."""
    local = now.astimezone(ZoneInfo(trigger.timezone))
    cron = croniter(trigger.cron, local + timedelta(microseconds=1))
    slot: datetime = cron.get_prev(datetime)
    return slot


class Scheduler:
    """Enqueues due slots of schedule triggers; :meth:`tick` is one look at the clock."""

    def __init__(
        self,
        triggers: list[ScheduleTrigger],
        queue: TriggerEventQueue,
        *,
        clock: Clock = system_clock,
    ) -> None:
        self.triggers = triggers
        self.queue = queue
        self.clock = clock

    def tick(self) -> list[Enqueued]:
        """Enqueue what is due now; the events stored (``created`` False: another instance)."""
        now = self.clock()
        return [e for t in self.triggers if (e := self._due(t, now)) is not None]

    def _due(self, trigger: ScheduleTrigger, now: datetime) -> Enqueued | None:
        slot = latest_slot(trigger, now)
        key = slot_key(slot)
        last = self._last_key(trigger.id)
        if last is not None and key <= last:
            return None
        late = now - slot > timedelta(seconds=trigger.grace_seconds)
        if late and (trigger.missed == "skip" or last is None):
            return None
        enqueued = self.queue.enqueue(
            trigger.id,
            "schedule",
            key,
            {"inputs": trigger.inputs, "slot": slot.isoformat(), "late": late},
            max_attempts=trigger.max_attempts,
        )
        if enqueued.created:
            logger.info("schedule %s: slot %s enqueued (late=%s)", trigger.id, slot, late)
        return enqueued

    def _last_key(self, trigger_id: str) -> str | None:
        stmt = select(func.max(TriggerEvent.idempotency_key)).where(
            TriggerEvent.trigger_id == trigger_id,
            TriggerEvent.idempotency_key.startswith(KEY_PREFIX),
        )
        with self.queue.engine.connect() as connection:
            value = connection.execute(stmt).scalar_one_or_none()
        return value if isinstance(value, str) else None
