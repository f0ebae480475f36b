"""Fan-out: forward accepted trace batches to further OTLP/HTTP endpoints.

Each endpoint has its own thread and bounded queue. A slow or dead downstream never stalls
ingest: when the queue is full the oldest batch is dropped and counted (forwarding is
best-effort; the spool guarantees only the local store).
"""

from __future__ import annotations

import collections
import logging
import threading

import httpx

logger = logging.getLogger(__name__)

RETRYABLE = {429, 502, 503, 504}


class Forwarder:
    def __init__(
        self,
        endpoint: str,
        *,
        queue_size: int,
        max_attempts: int = 8,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
    ) -> None:
        base = endpoint.rstrip("/")
        self.url = base if base.endswith("/v1/traces") else f"{base}/v1/traces"
        self.queue_size = queue_size
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._queue: collections.deque[bytes] = collections.deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"flowscope-forward {self.url}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)

    def submit(self, payload: bytes) -> None:
        with self._cond:
            if len(self._queue) >= self.queue_size:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    logger.warning(
                        "forward queue to %s full; dropped %d batches so far",
                        self.url,
                        self.dropped,
                    )
            self._queue.append(payload)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                with self._cond:
                    while not self._queue and not self._stop.is_set():
                        self._cond.wait(1.0)
                    if self._stop.is_set():
                        return
                    payload = self._queue.popleft()
                self._send(client, payload)

    def _send(self, client: httpx.Client, payload: bytes) -> None:
        delay = self.backoff_s
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = client.post(
                    self.url, content=payload, headers={"Content-Type": "application/x-protobuf"}
                )
            except httpx.HTTPError as exc:
                reason = str(exc) or type(exc).__name__
            else:
                if response.status_code < 300:
                    self.sent += 1
                    return
                if response.status_code not in RETRYABLE:
                    self.failed += 1
                    logger.warning(
                        "forward to %s rejected a batch: HTTP %d", self.url, response.status_code
                    )
                    return
                reason = f"HTTP {response.status_code}"
                retry_after = response.headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = max(delay, float(retry_after))
            if attempt == self.max_attempts or self._stop.wait(delay):
                break
            delay = min(delay * 2, 30.0)
        self.failed += 1
        logger.warning("forward to %s gave up on a batch: %s", self.url, reason)
