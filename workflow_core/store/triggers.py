"""Trigger events as a durable work queue in the run store (for webhooks and schedules).

The life of an event::

    enqueue ─► pending ─claim─► running ─complete─► succeeded
                  ▲                │ fail (attempts left: back to pending after a back-off)
                  └────────────────┤ fail (no attempts left) ─► failed    (replay ─► pending)
                                   └ lease expires (worker died) ─► claimable again

- ``enqueue`` is idempotent on ``(trigger_id, idempotency_key)``: a re-delivered webhook or a
  schedule slot enqueued by two instances is stored once (the second caller gets the first
  event back, ``created=False``). Use ``schedule:<cron slot ISO time>`` as the key of a
  schedule slot and two instances never run the same slot twice.
- ``claim`` takes a lease with a compare-and-set ``UPDATE`` on one row (no ``SKIP LOCKED``, no
  table lock: portable to SQLite, PostgreSQL and MySQL, and deadlock-free); a worker that dies
  loses its lease when ``lease_expires_at`` passes, and the event is claimed again.
- ``complete`` / ``fail`` only act while the caller still holds the lease, so an event is run to
  completion at most once even when a slow worker's lease was taken over.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from workflow_core.store.database import SQLITE_BEGIN_OPTION, describe
from workflow_core.store.errors import NotFoundError, StoreError
from workflow_core.store.models import TriggerEvent
from workflow_core.store.payload import PayloadPolicy
from workflow_core.store.redaction import Redactor
from workflow_core.store.types import utcnow

PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
EVENT_COLUMNS = tuple(TriggerEvent.__table__.c)


@dataclass(frozen=True)
class TriggerEventRecord:
    id: str
    trigger_id: str
    trigger_type: str
    idempotency_key: str
    status: str
    payload: Any
    headers: Any
    attempts: int
    max_attempts: int
    available_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_run_id: str | None
    last_error: str | None
    received_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class Enqueued:
    event: TriggerEventRecord
    created: bool  # False: the idempotency key was already there; ``event`` is the first one


class TriggerEventQueue:
    """Durable, idempotent, leased trigger events.

    ``payload`` is stored verbatim (a replay must run with what was received); ``headers`` are
    redacted (signatures and tokens are checked on receipt and never needed again).
    """

    def __init__(self, engine: Engine, *, redactor: Redactor | None = None) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._headers = PayloadPolicy(redactor or Redactor(), max_bytes=64 * 1024)

    def enqueue(
        self,
        trigger_id: str,
        trigger_type: str,
        idempotency_key: str,
        payload: Any,
        *,
        headers: Mapping[str, str] | None = None,
        max_attempts: int = 5,
        available_at: datetime | None = None,
    ) -> Enqueued:
        """Store an event durably (committed on return) unless its key is already stored."""
        if max_attempts < 1:
            raise StoreError(
                f"trigger {trigger_id}: max_attempts must be at least 1, got {max_attempts}"
            )
        now = utcnow()
        row = {
            "id": str(uuid.uuid4()),
            "trigger_id": trigger_id,
            "trigger_type": trigger_type,
            "idempotency_key": idempotency_key,
            "status": PENDING,
            "payload": payload,
            "headers": self._headers.document(dict(headers)) if headers else None,
            "attempts": 0,
            "max_attempts": max_attempts,
            "available_at": available_at or now,
            "received_at": now,
            "updated_at": now,
        }
        try:
            with self._writing() as connection:
                connection.execute(insert(TriggerEvent).values(row))
            return Enqueued(self.get(row["id"]), created=True)
        except IntegrityError:
            existing = self._by_key(trigger_id, idempotency_key)
            if existing is None:  # pragma: no cover - a unique violation on another column
                raise
            return Enqueued(existing, created=False)

    def claim(
        self, worker: str, *, lease: timedelta = timedelta(minutes=5)
    ) -> TriggerEventRecord | None:
        """Lease the oldest due event (or one whose lease expired); ``None`` when none is.

        An event whose lease expired on its last attempt (its worker died every time: a poison
        event) is marked failed instead of being handed out forever.
        """
        now = utcnow()
        expired = and_(TriggerEvent.status == RUNNING, TriggerEvent.lease_expires_at < now)
        claimable = or_(
            and_(TriggerEvent.status == PENDING, TriggerEvent.available_at <= now), expired
        )
        with self._reading() as connection:
            candidates = connection.execute(
                select(
                    TriggerEvent.id,
                    TriggerEvent.status,
                    TriggerEvent.attempts,
                    TriggerEvent.max_attempts,
                )
                .where(claimable)
                .order_by(TriggerEvent.available_at, TriggerEvent.id)
                .limit(16)
            ).all()
        # Every write is a compare-and-set on one row by primary key: no range locks, so
        # concurrent workers cannot deadlock.
        for event_id, status, attempts, max_attempts in candidates:
            if status == RUNNING and attempts >= max_attempts:
                self._give_up(event_id, expired, now)
                continue
            with self._writing() as connection:
                taken = connection.execute(
                    update(TriggerEvent)
                    .where(TriggerEvent.id == event_id, claimable)
                    .values(
                        status=RUNNING,
                        lease_owner=worker,
                        lease_expires_at=now + lease,
                        attempts=TriggerEvent.attempts + 1,
                        updated_at=now,
                    )
                ).rowcount
            if taken == 1:
                return self.get(event_id)
        return None

    def _give_up(self, event_id: str, expired: ColumnElement[bool], now: datetime) -> None:
        with self._writing() as connection:
            connection.execute(
                update(TriggerEvent)
                .where(TriggerEvent.id == event_id, expired)
                .values(
                    status=FAILED,
                    last_error="lease expired on the last attempt (the worker stopped)",
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                    updated_at=now,
                )
            )

    def complete(self, event_id: str, worker: str, *, run_id: str | None = None) -> bool:
        """Mark a leased event succeeded; ``False`` if ``worker`` no longer holds the lease."""
        now = utcnow()
        return self._update_leased(
            event_id,
            worker,
            {
                "status": SUCCEEDED,
                "last_run_id": run_id,
                "finished_at": now,
                "updated_at": now,
                "lease_owner": None,
                "lease_expires_at": None,
            },
        )

    def fail(
        self,
        event_id: str,
        worker: str,
        error: str,
        *,
        run_id: str | None = None,
        retry_in: timedelta = timedelta(seconds=30),
    ) -> bool:
        """Record a failed attempt: back to pending after ``retry_in``, or failed when the
        event has used all its attempts. ``False`` if ``worker`` no longer holds the lease."""
        event = self.get(event_id)
        now = utcnow()
        final = event.attempts >= event.max_attempts
        values: dict[str, Any] = {
            "status": FAILED if final else PENDING,
            "last_error": self._headers.text(error),
            "last_run_id": run_id,
            "available_at": now if final else now + retry_in,
            "finished_at": now if final else None,
            "updated_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        return self._update_leased(event_id, worker, values)

    def replay(self, event_id: str) -> TriggerEventRecord:
        """Make a finished (or failed) event pending again, with a fresh set of attempts."""
        now = utcnow()
        with self._writing() as connection:
            changed = connection.execute(
                update(TriggerEvent)
                .where(TriggerEvent.id == event_id, TriggerEvent.status.in_((SUCCEEDED, FAILED)))
                .values(
                    status=PENDING, attempts=0, available_at=now, finished_at=None, updated_at=now
                )
            ).rowcount
        event = self.get(event_id)
        if changed != 1:
            raise StoreError(
                f"trigger event {event_id} is {event.status}; only finished events replay"
            )
        return event

    def get(self, event_id: str) -> TriggerEventRecord:
        with self._reading() as connection:
            row = (
                connection.execute(select(*EVENT_COLUMNS).where(TriggerEvent.id == event_id))
                .mappings()
                .one_or_none()
            )
        if row is None:
            raise NotFoundError(f"trigger event {event_id!r} is not in the run store")
        return TriggerEventRecord(**row)

    def list(
        self, *, trigger_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[TriggerEventRecord]:
        """Events newest first (failed ones stay listed until replayed)."""
        stmt = select(*EVENT_COLUMNS)
        if trigger_id is not None:
            stmt = stmt.where(TriggerEvent.trigger_id == trigger_id)
        if status is not None:
            stmt = stmt.where(TriggerEvent.status == status)
        stmt = stmt.order_by(TriggerEvent.received_at.desc(), TriggerEvent.id.desc()).limit(limit)
        with self._reading() as connection:
            return [TriggerEventRecord(**r) for r in connection.execute(stmt).mappings()]

    def _by_key(self, trigger_id: str, key: str) -> TriggerEventRecord | None:
        with self._reading() as connection:
            row = (
                connection.execute(
                    select(*EVENT_COLUMNS).where(
                        TriggerEvent.trigger_id == trigger_id, TriggerEvent.idempotency_key == key
                    )
                )
                .mappings()
                .one_or_none()
            )
        return None if row is None else TriggerEventRecord(**row)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(
                f"trigger events ({describe(self.engine)}): read failed: {exc}"
            ) from exc

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One committed transaction; a unique-key clash stays an ``IntegrityError``."""
        try:
            with self._writer.begin() as connection:
                yield connection
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(
                f"trigger events ({describe(self.engine)}): write failed: {exc}"
            ) from exc

    def _update_leased(self, event_id: str, worker: str, values: dict[str, Any]) -> bool:
        with self._writing() as connection:
            changed = connection.execute(
                update(TriggerEvent)
                .where(
                    TriggerEvent.id == event_id,
                    TriggerEvent.status == RUNNING,
                    TriggerEvent.lease_owner == worker,
                )
                .values(values)
            ).rowcount
        return bool(changed == 1)
