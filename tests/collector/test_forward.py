"""Fan-out: two chained collectors; the downstream one gets every accepted batch exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from collector_harness import (
    PROTO,
    SPANS_PER_TRACE,
    CollectorProcess,
    free_port,
    stored_span_counts,
    trace_request,
)


def test_chained_collectors_forward_each_batch_once_despite_a_dead_endpoint(tmp_path: Path) -> None:
    downstream = CollectorProcess(tmp_path / "downstream").start()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: retries must not stall ingest
    upstream = CollectorProcess(
        tmp_path / "upstream",
        env={
            "FLOWSCOPE_FORWARD_ENDPOINTS": f"{downstream.url},{dead}",
            "FLOWSCOPE_FORWARD_QUEUE_SIZE": "5",
        },
    )
    try:
        upstream.start()
        sent = []
        started = time.monotonic()
        for _ in range(20):
            trace_id, body = trace_request("fanout")
            response = httpx.post(f"{upstream.url}/v1/traces", content=body, headers=PROTO)
            assert response.status_code == 200
            sent.append(trace_id)
        assert time.monotonic() - started < 30  # the dead endpoint never blocked acknowledging
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            forward = {f["url"]: f for f in upstream.health()["forward"]}
            if forward[f"{downstream.url}/v1/traces"]["sent"] == len(sent):
                break
            time.sleep(0.2)
        downstream.wait_drained()
        assert stored_span_counts(downstream, "fanout") == dict.fromkeys(sent, SPANS_PER_TRACE)
        upstream.wait_drained()
        assert stored_span_counts(upstream, "fanout") == dict.fromkeys(sent, SPANS_PER_TRACE)
        dead_state = {f["url"]: f for f in upstream.health()["forward"]}[f"{dead}/v1/traces"]
        assert dead_state["sent"] == 0
        assert dead_state["dropped"] + dead_state["pending"] + dead_state["failed"] >= 15
    finally:
        upstream.stop()
        downstream.stop()
