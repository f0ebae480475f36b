"""Error boost: sliding-window error rates per workflow and per node type.

Counting stays off the probe's hot path: the sampler counts spans on its cached decisions and
adds them to the current bucket in bulk (:meth:`ErrorBoost.add`) on every tick and before any
error is counted, so an error always meets up-to-date totals; the window is rotated by the
sampler's tick (a background thread, or the test's simulated clock). Entering a boost is checked
at once when an error is counted, so the reaction is immediate (each tick checks too, for errors
counted before ``min_spans`` was reached); leaving is checked on each tick, with hysteresis (the
rate must fall below ``threshold * recover_ratio``) and a minimum hold time.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from probe.sampling.policy import ErrorBoostSettings

logger = logging.getLogger(__name__)

Scope = tuple[str, str]  # ("workflow", name) or ("node_type", type)


class Window:
    """Counts of one scope over ``buckets`` buckets: the current one plus the past ones."""

    __slots__ = ("_keep", "errors", "past", "past_errors", "past_total", "total")

    def __init__(self, buckets: int) -> None:
        self.total = 0
        self.errors = 0
        self.past: deque[tuple[int, int]] = deque()
        self.past_total = 0
        self.past_errors = 0
        self._keep = buckets - 1

    def rotate(self, steps: int) -> None:
        for _ in range(min(steps, self._keep + 1)):
            self.past.append((self.total, self.errors))
            self.past_total += self.total
            self.past_errors += self.errors
            self.total = 0
            self.errors = 0
            while len(self.past) > self._keep:
                old_total, old_errors = self.past.popleft()
                self.past_total -= old_total
                self.past_errors -= old_errors

    def counts(self) -> tuple[int, int]:
        """(spans, errors) in the whole window."""
        return self.past_total + self.total, self.past_errors + self.errors


class ErrorBoost:
    """Decides which scopes are sampled at 100 % because their error rate is too high."""

    def __init__(
        self,
        settings: ErrorBoostSettings,
        now: float,
        on_change: Callable[[], None],
        debug_logger: str = "probe",
    ) -> None:
        self.settings = settings
        self._on_change = on_change
        # Guards entering/leaving (rare: an error on a healthy scope, a tick), never counting.
        self._lock = threading.RLock()
        self._windows: dict[Scope, Window] = {}
        self._entered: dict[Scope, float] = {}
        self._bucket_seconds = settings.window_seconds / settings.buckets
        self._next_rotation = now + self._bucket_seconds
        self._debug_logger = logging.getLogger(debug_logger)
        self._saved_level: int | None = None
        self._now = now
        self.workflows: frozenset[str] = frozenset()
        self.node_types: frozenset[str] = frozenset()

    def reconfigure(self, settings: ErrorBoostSettings) -> None:
        with self._lock:
            self._reconfigure(settings)

    def _reconfigure(self, settings: ErrorBoostSettings) -> None:
        if settings.buckets != self.settings.buckets:
            self._windows.clear()
        self.settings = settings
        self._bucket_seconds = settings.window_seconds / settings.buckets
        if not settings.enabled:
            for scope in list(self._entered):
                self._leave(scope, "error boost disabled by the policy")

    def add(self, scope: Scope, spans: int) -> None:
        """Add ``spans`` error-free spans to the current bucket (the sampler's flush)."""
        window = self._windows.get(scope)
        if window is None:
            window = self._windows.setdefault(scope, Window(self.settings.buckets))
        window.total += spans

    def count_error(self, scope: Scope, flush: Callable[[], None] | None = None) -> None:
        """One more failed span in ``scope`` (already counted in its total by :meth:`add`).

        ``flush`` brings the totals up to date before a scope that is not boosted is checked.
        """
        window = self._windows.get(scope)
        if window is None:
            window = self._windows.setdefault(scope, Window(self.settings.buckets))
        window.errors += 1
        if scope not in self._entered and self.settings.enabled:
            with self._lock:
                if scope not in self._entered:
                    if flush is not None:
                        flush()
                    self._check_enter(scope, window)

    def error_rate(self, scope: Scope) -> float | None:
        window = self._windows.get(scope)
        if window is None:
            return None
        total, errors = window.counts()
        return errors / total if total else None

    def _check_enter(self, scope: Scope, window: Window) -> None:
        total, errors = window.counts()
        if total >= self.settings.min_spans and errors / total > self.settings.threshold:
            self._entered[scope] = self._now
            self._publish()
            logger.warning(
                "error rate of %s %r is %.2f%% (%d of %d) over the last %gs, above %.2f%%: "
                "sampling it at 100%%%s",
                scope[0],
                scope[1],
                100 * errors / total,
                errors,
                total,
                self.settings.window_seconds,
                100 * self.settings.threshold,
                " with debug logging" if self.settings.debug_logging else "",
            )

    def tick(self, now: float) -> None:
        with self._lock:
            self._tick(now)

    def _tick(self, now: float) -> None:
        self._now = now
        if self.settings.enabled:
            for scope, window in list(self._windows.items()):
                if scope not in self._entered:
                    self._check_enter(scope, window)
        if now >= self._next_rotation:
            steps = 1 + int((now - self._next_rotation) // self._bucket_seconds)
            self._next_rotation += steps * self._bucket_seconds
            for window in list(self._windows.values()):
                window.rotate(steps)
        for scope, since in list(self._entered.items()):
            if now - since < self.settings.min_hold_seconds:
                continue
            rate = self.error_rate(scope) or 0.0
            if rate < self.settings.threshold * self.settings.recover_ratio:
                self._leave(scope, f"error rate back to {100 * rate:.2f}%")

    def _leave(self, scope: Scope, why: str) -> None:
        del self._entered[scope]
        self._publish()
        logger.info("%s %r: %s, back to the policy's rates", scope[0], scope[1], why)

    def _publish(self) -> None:
        """Expose the boosted scopes as frozensets, toggle debug logging, drop cached decisions."""
        self.workflows = frozenset(name for kind, name in self._entered if kind == "workflow")
        self.node_types = frozenset(name for kind, name in self._entered if kind == "node_type")
        if self.settings.debug_logging:
            if self._entered and self._saved_level is None:
                self._saved_level = self._debug_logger.level
                self._debug_logger.setLevel(logging.DEBUG)
            elif not self._entered and self._saved_level is not None:
                self._debug_logger.setLevel(self._saved_level)
                self._saved_level = None
        self._on_change()

    def is_boosted(self, workflow: str | None, node_type: str | None) -> bool:
        return workflow in self.workflows or node_type in self.node_types
