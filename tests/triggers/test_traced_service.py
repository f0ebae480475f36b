"""``auto-instrument flowscope serve``: a delivery's trace starts at the trigger (real processes).

The OTLP receiver is the probe tests' (tests/probe/otlp_receiver.py), reused, not copied.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from triggers_support import Service, email_body, free_port, signed_headers, write_config

sys.path.insert(0, str(Path(__file__).parents[1] / "probe"))

from otlp_receiver import Receiver, otlp_receiver

from workflow_core.triggers.config import load_config

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as running:
        yield running


def test_delivery_trace_starts_at_the_trigger_under_the_callers_span(
    tmp_path: Path, db_url: str, receiver: Receiver
) -> None:
    bin_dir = Path(sys.executable).parent
    prefix = [
        str(bin_dir / "auto-instrument"),
        "--service-name",
        "triggers-e2e",
        "--endpoint",
        receiver.url,
        "--",
    ]
    service = Service(
        write_config(tmp_path),
        db_url,
        free_port(),
        tmp_path / "serve.log",
        prefix=prefix,
        env={"FLOWSCOPE_SHUTDOWN_TIMEOUT_MS": "5000", "OTEL_BSP_SCHEDULE_DELAY": "200"},
    )
    config = load_config(tmp_path / "triggers.yaml", {})
    try:
        service.start()
        body = email_body()
        headers = {**signed_headers(body), "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
        response = httpx.post(
            service.base + config.webhook_path("support-email"), content=body, headers=headers
        )
        assert response.status_code == 202, response.text
        # The trigger span ends last (after the run and the callback), so it may come in a
        # later export batch than the first five spans: wait for it by name.
        deadline = time.monotonic() + 60
        spans = receiver.wait_for(5, timeout=60)
        while time.monotonic() < deadline and not any(
            s.name == "trigger support-email" for s in spans
        ):
            time.sleep(0.1)
            spans = receiver.wait_for(5, timeout=1)
    finally:
        service.stop()
    by_name = {s.name: s for s in spans}
    root = by_name["trigger support-email"]
    run = by_name["invoke_workflow support_reply"]
    assert root.trace_id == CALLER_TRACE and root.parent_span_id == CALLER_SPAN
    assert run.parent_span_id == root.span_id
    assert root.attributes["flowscope.trigger.event_id"] == response.json()["event_id"]
    assert root.attributes["flowscope.trigger.type"] == "webhook"
    assert root.resource["service.name"] == "triggers-e2e"
    assert all(s.trace_id == CALLER_TRACE for s in spans)
