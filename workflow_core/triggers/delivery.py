"""Running one trigger event: the workflow run (at most once to completion) and the callback.

:meth:`TriggerDelivery.deliver` is the probe's ``trigger`` target
(``workflow_core.triggers.delivery:TriggerDelivery.deliver(self, event)``): its span is the root
of the event's trace; ``event.headers`` holds the delivery's headers (``traceparent`` /
``tracestate`` included) so the probe can continue the caller's trace. The workflow run and the
callback (``workflow_core.http_client:HttpClient.send``) are its children.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from workflow_core.events import NodeFinished, RunFinished, RunStarted
from workflow_core.http_client import HttpClient, HttpRequestSpec, Timeouts
from workflow_core.services import build_runner
from workflow_core.store.database import SQLITE_BEGIN_OPTION
from workflow_core.store.models import TriggerEvent, WorkflowRun
from workflow_core.store.sql_store import SqlRunStore
from workflow_core.store.triggers import TriggerEventQueue, TriggerEventRecord
from workflow_core.store.types import utcnow
from workflow_core.triggers.config import TriggersConfig, WebhookTrigger
from workflow_core.triggers.errors import CallbackError, TriggerError
from workflow_core.triggers.signature import sign_timestamped

logger = logging.getLogger(__name__)

COMPLETED = ("succeeded", "partial-succeeded")
REPLAYED_AT_HEADER = "x-flowscope-replayed-at"
CALLBACK_SIGNATURE = "X-Flowscope-Signature"
CALLBACK_TIMESTAMP = "X-Flowscope-Timestamp"


@dataclass(frozen=True)
class DeliveryOutcome:
    """What became of one attempt: ``ok`` → the event is done, else it is retried / failed."""

    ok: bool
    run_id: str | None
    status: str
    error: str | None = None
    reused_run: bool = False  # an earlier attempt's run had completed (crash before marking)


def generation_start(event: TriggerEventRecord) -> datetime:
    """When the current delivery generation of ``event`` began (receipt or last replay)."""
    headers = event.headers if isinstance(event.headers, dict) else {}
    replayed = headers.get(REPLAYED_AT_HEADER)
    if isinstance(replayed, str):
        try:
            return datetime.fromisoformat(replayed)
        except ValueError:
            logger.warning("trigger event %s: bad %s %r", event.id, REPLAYED_AT_HEADER, replayed)
    return event.received_at


def replay_event(queue: TriggerEventQueue, event_id: str) -> TriggerEventRecord:
    """Run a finished (or failed) event again: a new generation that runs the workflow anew.

    The replay time is noted in the event's headers (``x-flowscope-replayed-at``) before the
    event becomes pending, so the run of an earlier generation is never mistaken for this one's.
    """
    event = queue.get(event_id)
    headers = dict(event.headers) if isinstance(event.headers, dict) else {}
    headers[REPLAYED_AT_HEADER] = utcnow().isoformat()
    writer = queue.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    with writer.begin() as connection:
        connection.execute(
            update(TriggerEvent).where(TriggerEvent.id == event_id).values(headers=headers)
        )
    return queue.replay(event_id)


class _LinkEvent:
    """Run listener that links the run to its trigger event when the run starts."""

    def __init__(self, store: SqlRunStore, event_id: str) -> None:
        self.store = store
        self.event_id = event_id

    def on_run_start(self, event: RunStarted) -> None:
        self.store.link_trigger_event(event.run_id, self.event_id)

    def on_node_finish(self, event: NodeFinished) -> None:
        return None

    def on_run_finish(self, event: RunFinished) -> None:
        return None


class TriggerDelivery:
    """Runs trigger events against their workflows and posts callbacks."""

    def __init__(
        self,
        config: TriggersConfig,
        store: SqlRunStore,
        *,
        environ: Mapping[str, str],
        http: HttpClient | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        self.config = config
        self.store = store
        self.environ = environ
        self.http = http or HttpClient()
        self._sleep = sleep

    def deliver(self, event: TriggerEventRecord) -> DeliveryOutcome:
        """Run ``event`` once to completion (reusing a run an earlier attempt completed)."""
        trigger = self.config.triggers.get(event.trigger_id)
        if trigger is None:
            raise TriggerError(
                f"trigger event {event.id}: trigger {event.trigger_id!r} is not in "
                f"{self.config.source}"
            )
        payload = event.payload if isinstance(event.payload, dict) else {}
        previous = self._completed_run(event)
        if previous is not None:
            run_id, status, outputs = previous
            reused = True
            error = None
        else:
            run_id, status, outputs, error = self._run(trigger.workflow, event, payload)
            reused = False
        if status not in COMPLETED:
            return DeliveryOutcome(False, run_id, status, error or "the run failed")
        if isinstance(trigger, WebhookTrigger) and trigger.callback is not None:
            try:
                self._callback(trigger, event, run_id, status, outputs)
            except CallbackError as exc:
                return DeliveryOutcome(False, run_id, status, str(exc), reused)
        return DeliveryOutcome(True, run_id, status, None, reused)

    def _run(
        self, workflow: Any, event: TriggerEventRecord, payload: Mapping[str, Any]
    ) -> tuple[str, str, Any, str | None]:
        runner = build_runner(
            workflow, environ=self.environ, listeners=[self.store, _LinkEvent(self.store, event.id)]
        )
        self.store.register_app(runner.app)
        inputs = payload.get("inputs") or {}
        result = runner.run(inputs)
        return result.run_id, result.status, result.outputs, result.error

    def _completed_run(self, event: TriggerEventRecord) -> tuple[str, str, Any] | None:
        """A run of this event that completed in the current generation of the event.

        A generation starts at receipt, and again at each replay (:func:`replay_event` notes
        the time in the event's headers): runs before it belong to an earlier generation.
        """
        if event.attempts <= 1:
            return None
        stmt = (
            select(WorkflowRun.id, WorkflowRun.status, WorkflowRun.outputs)
            .where(
                WorkflowRun.trigger_event_id == event.id,
                WorkflowRun.status.in_(COMPLETED),
                WorkflowRun.started_at >= generation_start(event),
            )
            .order_by(WorkflowRun.started_at.desc())
            .limit(1)
        )
        with self.store.engine.connect() as connection:
            row = connection.execute(stmt).one_or_none()
        return None if row is None else (row[0], row[1], row[2])

    def _callback(
        self,
        trigger: WebhookTrigger,
        event: TriggerEventRecord,
        run_id: str,
        status: str,
        outputs: Any,
    ) -> None:
        """POST the result, signed (standard scheme), retrying with exponential back-off."""
        assert trigger.callback is not None
        callback = trigger.callback
        body = json.dumps(
            {
                "event_id": event.id,
                "trigger_id": event.trigger_id,
                "run_id": run_id,
                "status": status,
                "outputs": outputs,
            },
            ensure_ascii=False,
            default=str,
        ).encode()
        secret = self.config.callback_secret(trigger.id)
        problem = ""
        for attempt in range(1, callback.max_attempts + 1):
            timestamp = int(time.time())
            headers: list[tuple[str, str]] = [
                ("Content-Type", "application/json"),
                ("Idempotency-Key", event.id),
                (CALLBACK_TIMESTAMP, str(timestamp)),
            ]
            if secret:
                headers.append((CALLBACK_SIGNATURE, sign_timestamped(secret, timestamp, body)))
            request = HttpRequestSpec(
                method="POST",
                url=callback.url,
                headers=tuple(headers),
                body_kind="binary",
                body=body,
                timeouts=Timeouts(
                    connect=callback.timeout_seconds,
                    read=callback.timeout_seconds,
                    write=callback.timeout_seconds,
                ),
            )
            try:
                response = self.http.send(request)
                if response.ok:
                    return
                problem = f"HTTP {response.status_code}"
            except Exception as exc:  # connection refused, timeout …: retried
                problem = f"{type(exc).__name__}: {exc}"
            logger.warning(
                "trigger %s event %s: callback attempt %d/%d failed: %s",
                trigger.id,
                event.id,
                attempt,
                callback.max_attempts,
                problem,
            )
            if attempt < callback.max_attempts:
                self._sleep(callback.backoff_seconds * 2 ** (attempt - 1))
        raise CallbackError(
            f"trigger {trigger.id}: callback {callback.url} failed after "
            f"{callback.max_attempts} attempts: {problem}"
        )
