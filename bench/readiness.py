"""Waiting for a collector started by a benchmark: ``/healthz`` says its store is ready."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


def wait_until_store_ready(
    url: str,
    timeout_s: float,
    *,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    poll_s: float = 0.2,
) -> None:
    """Poll ``{url}/healthz`` until ``store_ready``; raise with the collector's log (when given)
    if ``process`` exits first or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).json()["store_ready"]:
                return
        except httpx.HTTPError:
            pass
        exited = process is not None and process.poll() is not None
        if exited or time.monotonic() > deadline:
            why = "exited" if exited else f"not ready after {timeout_s:.0f} s"
            output = log.read_text(encoding="utf-8", errors="replace") if log else ""
            raise RuntimeError(f"collector at {url} {why}\n{output}")
        time.sleep(poll_s)
