"""Webhook receipt: verify, map, persist, 202 — and nothing stored for what is refused."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from triggers_support import email_body, github_headers, signed_headers, write_config

from workflow_core.store.sql_store import SqlRunStore
from workflow_core.store.triggers import TriggerEventQueue
from workflow_core.triggers.app import create_app
from workflow_core.triggers.config import TriggersConfig, load_config
from workflow_core.triggers.errors import TriggerConfigError


@pytest.fixture
def client(config: TriggersConfig, queue: TriggerEventQueue) -> TestClient:
    return TestClient(create_app(config, queue))


def _url(config: TriggersConfig, trigger_id: str = "support-email") -> str:
    return config.webhook_path(trigger_id)


def test_valid_delivery_is_stored_before_the_202(
    client: TestClient, config: TriggersConfig, queue: TriggerEventQueue
) -> None:
    body = email_body()
    headers = {**signed_headers(body), "traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"}
    response = client.post(_url(config) + "?source=test", content=body, headers=headers)
    assert response.status_code == 202, response.text
    event = queue.get(response.json()["event_id"])
    assert event.status == "pending"
    assert event.payload["inputs"] == {
        "sender": "ana@example.com",
        "subject": "Refund for order 42",
        "body": "I was charged twice, please refund one payment.",
        "priority": 2,
    }
    assert event.payload["request"]["query"] == {"source": "test"}
    assert event.headers["traceparent"] == headers["traceparent"]
    assert "x-flowscope-signature" not in event.headers


def test_bad_signature_is_401_and_nothing_stored(
    client: TestClient, config: TriggersConfig, queue: TriggerEventQueue
) -> None:
    body = email_body()
    headers = signed_headers(body, secret="not-the-secret")
    response = client.post(_url(config), content=body, headers=headers)
    assert response.status_code == 401
    assert "does not match" in response.json()["detail"]
    tampered = signed_headers(email_body())
    response = client.post(_url(config), content=email_body(subject="changed"), headers=tampered)
    assert response.status_code == 401
    response = client.post(_url(config), content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert "X-Flowscope-Signature is missing" in response.json()["detail"]
    assert queue.list() == []


def test_stale_timestamp_is_401(
    client: TestClient, config: TriggersConfig, queue: TriggerEventQueue
) -> None:
    body = email_body()
    response = client.post(
        _url(config), content=body, headers=signed_headers(body, at=time.time() - 301)
    )
    assert response.status_code == 401
    assert "tolerance is 300 s" in response.json()["detail"]
    future = signed_headers(body, at=time.time() + 3600)
    assert client.post(_url(config), content=body, headers=future).status_code == 401
    assert queue.list() == []


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (b'{"from": "a@b.c", "subject": ', "body", "not valid JSON"),
        (email_body(message={"html": "<p>hi</p>"}), "body:/message/text", "missing"),
        (email_body(subject=["not", "text"]), "body:subject", "expected string, got list"),
        (email_body(priority="high"), "body:/priority", "expected integer"),
    ],
)
def test_malformed_body_is_400_naming_the_path(
    client: TestClient,
    config: TriggersConfig,
    queue: TriggerEventQueue,
    body: bytes,
    path: str,
    words: str,
) -> None:
    response = client.post(_url(config), content=body, headers=signed_headers(body))
    assert response.status_code == 400
    assert response.json()["path"] == path
    assert words in response.json()["detail"]
    assert queue.list() == []


def test_unknown_or_wrong_token_is_404(client: TestClient, config: TriggersConfig) -> None:
    body = email_body()
    token = config.token("support-email")
    wrong = f"/hooks/support-email/{token[:-1]}{'0' if token[-1] != '0' else '1'}"
    assert client.post(wrong, content=body, headers=signed_headers(body)).status_code == 404
    assert client.post(f"/hooks/nope/{token}", content=body).status_code == 404


def test_redelivery_with_the_same_key_stores_one_event(
    client: TestClient, config: TriggersConfig, queue: TriggerEventQueue
) -> None:
    body = email_body()
    first = client.post(_url(config), content=body, headers=signed_headers(body))
    second = client.post(_url(config), content=body, headers=signed_headers(body))
    assert first.status_code == second.status_code == 202
    assert first.json()["event_id"] == second.json()["event_id"]
    assert second.json()["duplicate"] is True
    keyed = {**signed_headers(body), "Idempotency-Key": "mail-1"}
    third = client.post(_url(config), content=body, headers=keyed)
    assert third.json()["event_id"] != first.json()["event_id"]
    assert len(queue.list()) == 2


def test_github_preset_verifies_x_hub_signature_256(
    client: TestClient, config: TriggersConfig, queue: TriggerEventQueue
) -> None:
    body = json.dumps(
        {"sender": {"login": "octocat"}, "issue": {"title": "Crash", "body": "It crashes"}}
    ).encode()
    url = _url(config, "github-issue")
    ok = client.post(url, content=body, headers=github_headers(body, "d-1"))
    assert ok.status_code == 202, ok.text
    event = queue.get(ok.json()["event_id"])
    assert event.idempotency_key == "d-1"
    assert event.payload["inputs"]["sender"] == "octocat"
    bad = github_headers(body + b" ", "d-2")
    assert client.post(url, content=body + b"  ", headers=bad).status_code == 401
    assert len(queue.list()) == 1


def test_event_status_endpoint(client: TestClient, config: TriggersConfig) -> None:
    body = email_body()
    event_id = client.post(_url(config), content=body, headers=signed_headers(body)).json()[
        "event_id"
    ]
    assert client.get(f"/events/{event_id}").json()["status"] == "pending"
    assert client.get("/events/missing").status_code == 404


def test_config_errors_name_file_trigger_and_field(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    text = path.read_text().replace("tolerance_seconds: 300", "tolerance_seconds: 0")
    path.write_text(text)
    with pytest.raises(TriggerConfigError, match=r"triggers\.yaml: triggers\.0\..*tolerance"):
        load_config(path, {})
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace("secret: test-webhook", "secret_env: NOPE #"))
    with pytest.raises(TriggerConfigError, match="environment variable NOPE is not set"):
        load_config(path, {})
    unsigned = tmp_path / "unsigned.yaml"
    unsigned.write_text(
        "triggers:\n  - {id: open, type: webhook, workflow: "
        f"{write_config(tmp_path).parent}/../nope.yml, signature: {{preset: none}}}}\n"
    )
    with pytest.raises(TriggerConfigError, match="does not exist"):
        load_config(unsigned, {})


def test_store_failure_is_not_acknowledged(config: TriggersConfig, store: SqlRunStore) -> None:
    queue = TriggerEventQueue(store.engine)
    client = TestClient(create_app(config, queue))
    store.engine.dispose()
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE trigger_events")
    body = email_body()
    response = client.post(_url(config), content=body, headers=signed_headers(body))
    assert response.status_code == 503


def test_oversized_body_is_413_and_nothing_stored(
    config: TriggersConfig, queue: TriggerEventQueue
) -> None:
    client = TestClient(create_app(config, queue, max_body_bytes=200))
    body = email_body(message={"text": "x" * 300})
    response = client.post(_url(config), content=body, headers=signed_headers(body))
    assert response.status_code == 413
    assert "larger than 200 bytes" in response.json()["detail"]
    assert queue.list() == []
