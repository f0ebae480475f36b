"""Fault tests with real processes: every span that got a 200 is stored exactly once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from collector_harness import (
    PROTO,
    SPANS_PER_TRACE,
    CollectorProcess,
    stored_span_counts,
    trace_request,
)


class Streamer:
    """Client threads posting one trace per request; remembers which traces got a 200."""

    def __init__(self, url: str, service: str, threads: int = 2) -> None:
        self.url = url
        self.service = service
        self.acked: set[str] = set()
        self.sent = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                trace_id, body = trace_request(self.service)
                with self._lock:
                    self.sent += 1
                try:
                    response = client.post(f"{self.url}/v1/traces", content=body, headers=PROTO)
                except httpx.HTTPError:
                    time.sleep(0.05)
                    continue
                if response.status_code == 200:
                    with self._lock:
                        self.acked.add(trace_id)

    def __enter__(self) -> Streamer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def test_kill_9_while_streaming_loses_and_duplicates_nothing_acked(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path, env={"FLOWSCOPE_BATCH_MAX_WAIT_S": "0.05"}).start()
    try:
        with Streamer(collector.url, "kill9") as stream:
            time.sleep(4)
            collector.kill()
            acked_before_kill = len(stream.acked)
            time.sleep(0.5)
            collector.start()
            time.sleep(2)
        assert acked_before_kill > 20, collector.log()
        collector.wait_drained()
        counts = stored_span_counts(collector, "kill9")
        missing = stream.acked - counts.keys()
        assert not missing, f"{len(missing)} acknowledged traces lost"
        wrong = {t: n for t, n in counts.items() if n != SPANS_PER_TRACE}
        assert not wrong, f"traces stored with a wrong span count (duplicates?): {wrong}"
        assert len(counts) <= stream.sent
    finally:
        collector.stop()


LOCK_HOLDER = """
import sys, time, clickhouse_connect
client = clickhouse_connect.get_client(dsn=sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
"""


def test_store_unavailable_spools_then_503_then_delivers_everything_once(tmp_path: Path) -> None:
    record_limit = 60_000
    collector = CollectorProcess(
        tmp_path,
        env={"FLOWSCOPE_SPOOL_MAX_BYTES": str(record_limit), "FLOWSCOPE_STORE_RETRY_S": "0.3"},
    )
    collector.store_dir.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, f"chdb://{collector.store_dir}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        collector.start(wait_store=False)
        acked: list[str] = []
        refused: list[bytes] = []
        while len(refused) < 3:
            trace_id, body = trace_request("outage")
            response = httpx.post(f"{collector.url}/v1/traces", content=body, headers=PROTO)
            if response.status_code == 200:
                acked.append(trace_id)
            else:
                assert response.status_code == 503, response.text
                assert int(response.headers["Retry-After"]) > 0
                refused.append(body)
            assert len(acked) < 1000, "the spool limit never kicked in"
        health = collector.health()
        assert not health["store_ready"] and "cannot open store" in health["store_error"]
        assert collector.get("/api/stats/nodes").status_code == 503
        assert len(acked) > 5
    finally:
        if holder.stdin:
            holder.stdin.close()
        holder.wait(30)
    try:
        collector.wait_ready(wait_store=True, timeout=90)
        collector.wait_drained()
        for body in refused:  # the client retries what was refused; now it fits
            assert (
                httpx.post(f"{collector.url}/v1/traces", content=body, headers=PROTO).status_code
                == 200
            )
        collector.wait_drained()
        counts = stored_span_counts(collector, "outage")
        assert set(acked) <= counts.keys()
        assert len(counts) == len(acked) + len(refused)
        assert set(counts.values()) == {SPANS_PER_TRACE}
    finally:
        collector.stop()


def test_replayed_pending_batch_is_deduplicated_by_its_token(tmp_path: Path) -> None:
    """A batch inserted just before a crash (checkpoint still ``pending``) replays as a no-op."""
    from collector.spool import wal

    collector = CollectorProcess(tmp_path, env={"FLOWSCOPE_BATCH_MAX_REQUESTS": "1"}).start()
    try:
        trace_id, body = trace_request("replay")
        assert (
            httpx.post(f"{collector.url}/v1/traces", content=body, headers=PROTO).status_code == 200
        )
        collector.wait_drained()
        assert stored_span_counts(collector, "replay") == {trace_id: SPANS_PER_TRACE}
        collector.stop()
        done = wal.load_checkpoint(collector.spool_dir)
        assert done.pending is None and done.offset == wal.HEADER.size + len(body)
        # the state a crash between "insert" and "advance checkpoint" leaves behind
        wal.store_checkpoint(
            collector.spool_dir, wal.Checkpoint(done.seq, 0, (done.seq, 0, done.offset)), fsync=True
        )
        collector.start()
        collector.wait_drained()
        assert wal.load_checkpoint(collector.spool_dir).pending is None
        assert collector.health()["spans_stored"] == SPANS_PER_TRACE  # it was replayed...
        assert stored_span_counts(collector, "replay") == {trace_id: SPANS_PER_TRACE}  # ...once
        assert collector.get("/api/stats/overview").json()["spans"] == SPANS_PER_TRACE
    finally:
        collector.stop()


def test_unreachable_clickhouse_server_keeps_acknowledging_into_the_spool(tmp_path: Path) -> None:
    from collector_harness import free_port

    dsn = f"clickhouse://flowscope:s3cret@127.0.0.1:{free_port()}/default"  # nothing listens
    collector = CollectorProcess(tmp_path, store=dsn, env={"FLOWSCOPE_STORE_RETRY_S": "0.3"})
    try:
        collector.start(wait_store=False)
        _, body = trace_request("server-down")
        response = httpx.post(f"{collector.url}/v1/traces", content=body, headers=PROTO)
        assert response.status_code == 200
        health = collector.health()
        assert not health["store_ready"]
        assert "cannot open store clickhouse://flowscope:***@127.0.0.1" in health["store_error"]
        assert health["spool_backlog_bytes"] > len(body)
        assert "s3cret" not in collector.log() and "s3cret" not in str(health)
        read = collector.get("/api/stats/nodes")
        assert read.status_code == 503 and "Retry-After" in read.headers
    finally:
        collector.stop()
