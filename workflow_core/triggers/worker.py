"""Workers: claim due trigger events, deliver them, mark them done or retry with back-off.

Each delivery runs in a fresh copy of the context (``contextvars.copy_context().run``), so
whatever an observer attaches to the context during a delivery ends with it.
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

from workflow_core.store.triggers import TriggerEventQueue, TriggerEventRecord
from workflow_core.store.types import utcnow
from workflow_core.triggers.delivery import TriggerDelivery

logger = logging.getLogger(__name__)


def worker_name(index: int) -> str:
    """A lease owner name unique to this process and worker (host, pid, random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{index}"


def renew_lease(queue: TriggerEventQueue, event_id: str, worker: str, lease: timedelta) -> bool:
    """Push the lease of ``worker`` on a running event ``lease`` into the future; ``False`` when
    ``worker`` no longer holds it. The queue has no public ``renew`` yet: this uses its own
    compare-and-set on the lease owner (the one ``complete`` / ``fail`` use)."""
    now = utcnow()
    values = {"lease_expires_at": now + lease, "updated_at": now}
    return queue._update_leased(event_id, worker, values)


def retry_delay(attempt: int, base: float, cap: float = 600.0) -> timedelta:
    """Exponential back-off after failed attempt ``attempt`` (1-based): base, 2·base, 4·base …"""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


class Worker:
    """Delivers events one at a time; :meth:`run_once` is the unit the loop repeats."""

    def __init__(
        self,
        queue: TriggerEventQueue,
        delivery: TriggerDelivery,
        *,
        name: str,
        lease: timedelta = timedelta(minutes=5),
        retry_base_seconds: float = 5.0,
    ) -> None:
        self.queue = queue
        self.delivery = delivery
        self.name = name
        self.lease = lease
        self.retry_base_seconds = retry_base_seconds

    def run_once(self) -> TriggerEventRecord | None:
        """Claim and deliver one due event; the claimed event, or ``None`` when idle."""
        event = self.queue.claim(self.name, lease=self.lease)
        if event is None:
            return None
        done = threading.Event()
        heartbeat = threading.Thread(
            target=self._keep_lease, args=(event.id, done), name=f"lease-{event.id}", daemon=True
        )
        heartbeat.start()
        try:
            outcome = contextvars.copy_context().run(self.delivery.deliver, event)
        except Exception as exc:
            logger.exception("trigger %s event %s: delivery failed", event.trigger_id, event.id)
            self._fail(event, f"{type(exc).__name__}: {exc}", None)
            return event
        finally:
            done.set()
            heartbeat.join()
        if outcome.ok:
            if not self.queue.complete(event.id, self.name, run_id=outcome.run_id):
                logger.warning(
                    "trigger %s event %s: lease lost before completion (another worker owns it)",
                    event.trigger_id,
                    event.id,
                )
        else:
            self._fail(event, outcome.error or outcome.status, outcome.run_id)
        return event

    def _keep_lease(self, event_id: str, done: threading.Event) -> None:
        """Extend the lease every third of its length while the delivery runs, so a long run
        is not taken over by another worker; a dead process stops extending it."""
        period = self.lease.total_seconds() / 3
        while not done.wait(period):
            try:
                if not renew_lease(self.queue, event_id, self.name, self.lease):
                    logger.warning("trigger event %s: lease lost to another worker", event_id)
                    return
            except Exception:
                logger.exception("trigger event %s: extending the lease failed", event_id)

    def _fail(self, event: TriggerEventRecord, error: str, run_id: str | None) -> None:
        delay = retry_delay(event.attempts, self.retry_base_seconds)
        self.queue.fail(event.id, self.name, error, run_id=run_id, retry_in=delay)
        logger.warning(
            "trigger %s event %s: attempt %d/%d failed: %s",
            event.trigger_id,
            event.id,
            event.attempts,
            event.max_attempts,
            error,
        )

    def loop(self, stop: threading.Event, poll_seconds: float) -> None:
        """Deliver events until ``stop`` is set; sleep ``poll_seconds`` when idle."""
        while not stop.is_set():
            try:
                busy = self.run_once() is not None
            except Exception:  # the database is away: keep the worker alive and retry
                logger.exception("trigger worker %s: claiming failed", self.name)
                busy = False
            if not busy:
                stop.wait(poll_seconds)
