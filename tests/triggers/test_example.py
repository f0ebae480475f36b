"""The support-webhook example end to end: signed email → run → signed draft at the approver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from triggers_support import ROOT, free_port, signed_headers

from workflow_core.store.sql_store import SqlRunStore
from workflow_core.store.triggers import TriggerEventQueue
from workflow_core.triggers.app import create_app
from workflow_core.triggers.config import CallbackConfig, WebhookTrigger, load_config
from workflow_core.triggers.delivery import TriggerDelivery
from workflow_core.triggers.worker import Worker

EXAMPLE = ROOT / "examples" / "support_webhook"
ENV = {"SUPPORT_WEBHOOK_SECRET": "s" * 32, "SUPPORT_CALLBACK_SECRET": "c" * 32}


def test_support_email_draft_reaches_the_approval_endpoint(
    tmp_path: Path, store: SqlRunStore
) -> None:
    port = free_port()
    log = tmp_path / "approvals.log"
    with log.open("wb") as out:
        approver = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "approval_server.py"), str(port)],
            env={**os.environ, **ENV},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        config = load_config(EXAMPLE / "triggers.yaml", ENV)
        trigger = config.triggers["support-email"]
        assert isinstance(trigger, WebhookTrigger) and trigger.callback is not None
        callback = CallbackConfig(
            url=f"http://127.0.0.1:{port}/approvals",
            secret_env="SUPPORT_CALLBACK_SECRET",
            max_attempts=20,
            backoff_seconds=0.1,
        )
        config.triggers["support-email"] = trigger.model_copy(update={"callback": callback})
        assert config.schedules()[0].timezone == "Europe/Berlin"
        queue = TriggerEventQueue(store.engine)
        body = json.dumps(
            {"from": "ana@example.com", "subject": "Refund", "text": "Charged twice."}
        ).encode()
        headers = {**signed_headers(body, secret=ENV["SUPPORT_WEBHOOK_SECRET"]), "Message-Id": "m1"}
        response = TestClient(create_app(config, queue)).post(
            config.webhook_path("support-email") + "?priority=1", content=body, headers=headers
        )
        assert response.status_code == 202, response.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        worker = Worker(queue, TriggerDelivery(config, store, environ={}), name="w")
        worker.run_once()
        event = queue.get(response.json()["event_id"])
        assert event.status == "succeeded", event.last_error
        assert event.payload["inputs"]["priority"] == 1
    finally:
        approver.terminate()
        approver.wait(10)
    printed = log.read_text()
    assert f"run {event.last_run_id}" in printed
    assert "to: ana@example.com  subject: Re: Refund" in printed
