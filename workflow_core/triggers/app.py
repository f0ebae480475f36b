"""The HTTP face of the trigger service (FastAPI): receive, verify, map, persist, answer 202.

Nothing runs in the request: the event is committed to the run store before the 202 (with its
event id) is sent, and a worker runs it later. Errors are mapped to HTTP here only: an unknown
URL → 404, a bad or stale signature → 401, a body that does not map → 400 naming the failing
path, a body over the size limit → 413; none of them stores anything.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from workflow_core.store.errors import NotFoundError, StoreError
from workflow_core.store.triggers import TriggerEventQueue
from workflow_core.triggers.config import TriggersConfig, WebhookTrigger
from workflow_core.triggers.errors import PayloadError, SignatureError
from workflow_core.triggers.mapping import map_inputs, parse_body
from workflow_core.triggers.signature import verify

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024

# Headers never stored with the event (checked on receipt, never needed again).
_DROPPED_HEADERS = frozenset({"authorization", "cookie", "x-hub-signature", "x-hub-signature-256"})


def stored_headers(trigger: WebhookTrigger, headers: Any) -> dict[str, str]:
    """The delivery's headers as kept on the event (``traceparent`` included)."""
    dropped = _DROPPED_HEADERS | {trigger.signature.signature_header.lower()}
    return {k.lower(): v for k, v in headers.items() if k.lower() not in dropped}


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"body: larger than {limit} bytes"}, status_code=413)


def create_app(
    config: TriggersConfig,
    queue: TriggerEventQueue,
    *,
    clock: Callable[[], float] = time.time,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    on_startup: Callable[[], None] | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            on_startup()
        try:
            yield
        finally:
            if on_shutdown is not None:
                on_shutdown()

    app = FastAPI(title="flowscope triggers", lifespan=lifespan)

    @app.post("/hooks/{trigger_id}/{token}", status_code=202)
    async def receive(trigger_id: str, token: str, request: Request) -> JSONResponse:
        trigger = config.webhook(trigger_id, token)
        if trigger is None:
            return JSONResponse({"detail": "no such webhook"}, status_code=404)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body_bytes:
            return _too_large(max_body_bytes)
        raw = await request.body()
        if len(raw) > max_body_bytes:
            return _too_large(max_body_bytes)
        try:
            verify(
                trigger.signature,
                config.secret(trigger.id),
                request.headers,
                raw,
                now=clock(),
            )
        except SignatureError as exc:
            logger.warning("webhook %s: refused delivery: %s", trigger.id, exc)
            return JSONResponse({"detail": f"signature: {exc}"}, status_code=401)
        try:
            body = parse_body(raw)
            inputs = map_inputs(
                trigger.inputs,
                body=body,
                query=request.query_params,
                headers=request.headers,
            )
        except PayloadError as exc:
            return JSONResponse({"detail": str(exc), "path": exc.path}, status_code=400)
        key = request.headers.get(trigger.idempotency_header_name)
        if not key:
            key = "sha256:" + hashlib.sha256(raw).hexdigest()
        payload = {
            "inputs": inputs,
            "request": {"body": body, "query": dict(request.query_params)},
        }
        try:
            enqueued = await run_in_threadpool(
                queue.enqueue,
                trigger.id,
                "webhook",
                key[:255],
                payload,
                headers=stored_headers(trigger, request.headers),
                max_attempts=trigger.max_attempts,
            )
        except StoreError as exc:
            logger.error("webhook %s: event not stored: %s", trigger.id, exc)
            return JSONResponse({"detail": "event not stored; retry later"}, status_code=503)
        return JSONResponse(
            {
                "event_id": enqueued.event.id,
                "status": enqueued.event.status,
                "duplicate": not enqueued.created,
            },
            status_code=202,
        )

    @app.get("/events/{event_id}")
    async def event(event_id: str) -> JSONResponse:
        try:
            record = await run_in_threadpool(queue.get, event_id)
        except NotFoundError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        return JSONResponse(
            {
                "event_id": record.id,
                "trigger_id": record.trigger_id,
                "status": record.status,
                "attempts": record.attempts,
                "run_id": record.last_run_id,
                "error": record.last_error,
            }
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
