"""Helpers for the trigger tests (a uniquely named module: test dirs put themselves on sys.path)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from workflow_core.store.sql_store import SqlRunStore
from workflow_core.triggers.signature import sign, sign_timestamped

ROOT = Path(__file__).resolve().parents[2]
SUPPORT_DSL = ROOT / "examples" / "support_webhook" / "support_reply.yml"
SECRET = "test-webhook-secret-0123456789"
GITHUB_SECRET = "github-secret-abcdef"
CALLBACK_SECRET = "callback-secret-xyz"

EMAIL = {
    "from": "ana@example.com",
    "subject": "Refund for order 42",
    "message": {"text": "I was charged twice, please refund one payment."},
    "priority": 2,
}


def write_config(
    directory: Path,
    *,
    callback_url: str | None = None,
    schedules: list[dict[str, Any]] | None = None,
) -> Path:
    """A triggers file: a standard-signed support webhook, a GitHub-preset one, schedules."""
    support: dict[str, Any] = {
        "id": "support-email",
        "type": "webhook",
        "workflow": str(SUPPORT_DSL),
        "signature": {"preset": "standard", "secret": SECRET, "tolerance_seconds": 300},
        "inputs": {
            "sender": {"from": "body:/from", "type": "string"},
            "subject": {"from": "body:subject", "type": "string"},
            "body": {"from": "body:/message/text", "type": "string"},
            "priority": {"from": "body:/priority", "type": "integer", "required": False},
        },
        "max_attempts": 3,
    }
    if callback_url:
        support["callback"] = {
            "url": callback_url,
            "secret": CALLBACK_SECRET,
            "max_attempts": 3,
            "backoff_seconds": 0,
        }
    github = {
        "id": "github-issue",
        "type": "webhook",
        "workflow": str(SUPPORT_DSL),
        "signature": {"preset": "github", "secret": GITHUB_SECRET},
        "inputs": {
            "sender": {"from": "body:sender.login"},
            "subject": {"from": "body:issue.title"},
            "body": {"from": "body:issue.body"},
        },
    }
    doc = {"triggers": [support, github, *(schedules or [])]}
    path = directory / "triggers.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def open_store(url: str) -> SqlRunStore:
    """The run store at ``url``, migrated (also on a server database)."""
    return SqlRunStore.open(url, environ={"FLOWSCOPE_DB_AUTO_MIGRATE": "true"})


def signed_headers(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if at is None else at)
    return {
        "Content-Type": "application/json",
        "X-Flowscope-Timestamp": str(timestamp),
        "X-Flowscope-Signature": sign_timestamped(secret, timestamp, body),
    }


def github_headers(body: bytes, delivery: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(GITHUB_SECRET, body),
    }


def email_body(**changes: Any) -> bytes:
    return json.dumps({**EMAIL, **changes}).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ApprovalInbox:
    """A local approval endpoint (real HTTP server) that records callbacks; fails on cue."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self.calls = 0
        self.lock = threading.Lock()


@contextmanager
def approval_server(inbox: ApprovalInbox) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with inbox.lock:
                inbox.calls += 1
                failing = inbox.calls <= inbox.fail_first
                if not failing:
                    inbox.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(503 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/approve"
    finally:
        server.shutdown()
        server.server_close()


class Service:
    """``flowscope serve`` as a child process (its own session, so nothing outlives the test)."""

    def __init__(
        self,
        config: Path,
        db_url: str,
        port: int,
        log: Path,
        *,
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self.args = [
            *prefix,
            str(Path(sys.executable).parent / "flowscope"),
            "serve",
            str(config),
            "--port",
            str(port),
            "--workers",
            "2",
        ]
        self.env = {
            **os.environ,
            "FLOWSCOPE_DATABASE_URL": db_url,
            **(env or {}),
        }
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=out, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"flowscope serve did not start:\n{self.log.read_text()}")

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
