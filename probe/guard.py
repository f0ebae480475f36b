"""Failures inside the probe: caught, logged once per cause, counted — never raised into the host.

A *cause* is where it happened (a target or a probe component) plus the exception type, so a
broken extractor that fails on every call logs one warning, not one per call, while the counter
keeps the true number.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

logger = logging.getLogger("probe")

_lock = threading.Lock()
_seen: set[tuple[str, str]] = set()
_counts: Counter[str] = Counter()


def report(where: str, exc: BaseException) -> None:
    """Count a probe-internal failure at ``where``; log it the first time this cause occurs."""
    cause = (where, type(exc).__name__)
    with _lock:
        _counts[where] += 1
        first = cause not in _seen
        _seen.add(cause)
    if first:
        logger.warning(
            "flowscope probe: %s failed (%s: %s); the host continues, further failures of this "
            "kind are counted silently",
            where,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )


def warn_once(where: str, message: str, *args: object) -> None:
    """Log ``message`` once per ``where`` (configuration problems, skipped targets)."""
    with _lock:
        first = (where, "") not in _seen
        _seen.add((where, ""))
    if first:
        logger.warning(message, *args)


def error_counts() -> dict[str, int]:
    """Probe-internal failures so far, by place."""
    with _lock:
        return dict(_counts)


def reset() -> None:
    """Forget logged causes and counts (used when the probe is instrumented anew)."""
    with _lock:
        _seen.clear()
        _counts.clear()
