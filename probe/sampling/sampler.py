"""The policy sampler: rules + error boost + adaptive control behind the hot-path contract.

Decisions are trace-consistent: a span with effective rate ``r`` is kept when the low 64 bits of
its trace id are below ``r * 2**64`` (the TraceIdRatioBased comparison), so every process and
every span of a trace agrees, and a span with a lower rate is only ever kept in a trace whose
higher-rate spans are kept too. ``decide`` is a dictionary lookup keyed on
``(kind, workflow, node_type, critical)`` into precomputed entries plus one integer comparison;
the entries are recomputed lazily after a policy reload, a boost change or an adaptive step.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from probe.sampling.adaptive import AdaptiveController
from probe.sampling.api import Decision
from probe.sampling.boost import ErrorBoost
from probe.sampling.policy import Policy, Rule

if TYPE_CHECKING:
    from probe.sampling.reload import PolicyWatcher

logger = logging.getLogger(__name__)

ROOT_KINDS = frozenset({"workflow", "trigger"})
_LOW64 = (1 << 64) - 1
_SPACE = 1 << 64

Operation = tuple[str, str | None, str | None]  # (kind, workflow, node_type)
_Key = tuple[str, str | None, str | None, bool]


class _Entry:
    """A precomputed decision for one key: keep below ``threshold``, or always when forced.

    ``calls`` counts the decisions made with it (every span, kept or not) until the next flush.
    """

    __slots__ = ("calls", "drop", "forced", "keep", "op", "threshold")

    def __init__(self, rate: float, reason: str, forced: bool) -> None:
        self.threshold = round(rate * _SPACE)
        self.forced = forced
        self.keep = Decision(True, rate, reason)
        self.drop = Decision(False, rate, reason)
        self.calls = 0
        self.op: Operation = ("", None, None)


class PolicySampler:
    """A :class:`~probe.sampling.api.SpanSampler` driven by a :class:`Policy`.

    ``clock`` (seconds, monotonic) is injectable so tests drive windows and the adaptive loop on
    a simulated clock by calling :meth:`tick`; in production :class:`~probe.sampling.reload.
    PolicyWatcher` calls ``tick`` from a daemon thread.
    """

    def __init__(self, policy: Policy, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        now = clock()
        self._policy = policy
        self._cache: dict[_Key, _Entry] = {}
        self._debugging = False  # any scope boosted with debug logging: record() logs its spans
        self.boost = ErrorBoost(policy.settings.error_boost, now, self._boost_changed)
        self.controller = AdaptiveController(policy.settings.adaptive)
        self._queue_depth: Callable[[], int] | None = None
        self._retired: list[dict[_Key, _Entry]] = []  # invalidated caches not yet flushed
        self._ops: dict[Operation, int] = {}  # spans per operation since the last adaptive step
        #: Whether ``record`` must see spans that ended without an error: only while a boosted
        #: scope logs its spans. Spans are counted by ``decide``; the probe skips the call else.
        self.record_successes = False
        self._floors: dict[Operation, float] = {}
        self._kept = 0
        self._kept_at_step = 0
        self._last_step = now
        self.watcher: PolicyWatcher | None = None  # set by load_sampler: reload + heartbeat

    # -- hot path ---------------------------------------------------------------------------
    def decide(
        self,
        kind: str,
        workflow: str | None,
        node_type: str | None,
        trace_id: int,
        parent_sampled: bool,
        critical: bool = False,
    ) -> Decision:
        cache = self._cache
        entry = cache.get((kind, workflow, node_type, critical))
        if entry is None:
            entry = self._resolve(cache, kind, workflow, node_type, critical)
        entry.calls += 1
        if entry.forced or (
            (parent_sampled or kind in ROOT_KINDS) and (trace_id & _LOW64) < entry.threshold
        ):
            self._kept += 1
            return entry.keep
        return entry.drop

    def record(self, kind: str, workflow: str | None, node_type: str | None, error: bool) -> None:
        # The span itself was counted by ``decide``: a success needs nothing more (the probe
        # skips this call for it unless ``record_successes``); an error is counted at once, and
        # a scope not yet boosted first gets the pending totals so its rate is up to date.
        if error:
            if kind == "workflow":
                self.boost.count_error(("workflow", workflow or ""), self._flush)
            elif kind == "node" and node_type is not None:
                self.boost.count_error(("node_type", node_type), self._flush)
        if self._debugging:
            self._log_boosted(kind, workflow, node_type, error)

    def _log_boosted(
        self, kind: str, workflow: str | None, node_type: str | None, error: bool
    ) -> None:
        if self.boost.is_boosted(workflow, node_type):
            logger.debug(
                "boosted scope: %s span of workflow %r node type %r finished%s",
                kind,
                workflow,
                node_type,
                " with an error" if error else "",
            )

    def _flush(self) -> None:
        """Move the spans counted since the last flush into the windows and ``_ops``.

        Takes only its own lock, which nothing else is acquired under: it runs both from
        ``tick`` (under the sampler's lock) and from the boost's error check (under its lock).
        """
        with self._flush_lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        retired, self._retired = self._retired, []
        ops = self._ops
        boost = self.boost
        for cache in (*retired, self._cache):
            for entry in list(cache.values()):
                calls = entry.calls
                if not calls:
                    continue
                entry.calls = 0  # a count racing this reset is lost: statistics, not billing
                key = entry.op
                ops[key] = ops.get(key, 0) + calls
                kind, workflow, node_type = key
                if kind == "workflow":
                    boost.add(("workflow", workflow or ""), calls)
                elif kind == "node" and node_type is not None:
                    boost.add(("node_type", node_type), calls)

    # -- configuration ----------------------------------------------------------------------
    @property
    def policy(self) -> Policy:
        return self._policy

    def apply_policy(self, policy: Policy) -> None:
        """Switch to a new policy (hot reload); counters and boost windows carry over."""
        with self._lock:
            self._policy = policy
            self.boost.reconfigure(policy.settings.error_boost)
            self.controller.settings = policy.settings.adaptive
            self._invalidate()

    def set_queue_depth_source(self, source: Callable[[], int] | None) -> None:
        """Give the sampler the export queue's current depth (the probe's span processor)."""
        self._queue_depth = source

    def close(self) -> None:
        """Stop the reload/heartbeat thread, if any (idempotent)."""
        if self.watcher is not None:
            self.watcher.stop()

    def debug_enabled_for(self, workflow: str | None, node_type: str | None) -> bool:
        """True while the scope is error-boosted and the policy turns debug logging on for it."""
        return self.boost.settings.debug_logging and self.boost.is_boosted(workflow, node_type)

    # -- periodic work ----------------------------------------------------------------------
    def tick(self) -> None:
        """Rotate error windows, leave recovered boosts, run an adaptive step when one is due."""
        with self._lock:
            now = self._clock()
            self._flush()
            self.boost.tick(now)
            elapsed = now - self._last_step
            if elapsed >= self._policy.settings.adaptive.interval_seconds:
                self._adapt(now, elapsed)

    def _adapt(self, now: float, elapsed: float) -> None:
        kept = self._kept
        with self._flush_lock:
            ops, self._ops = self._ops, {}
        depth = self._queue_depth() if self._queue_depth is not None else None
        before = self.controller.multiplier
        after = self.controller.update((kept - self._kept_at_step) / elapsed, depth)
        self._kept_at_step, self._last_step = kept, now
        per_minute = self._policy.settings.adaptive.min_traces_per_minute
        self._floors = {op: min(1.0, per_minute * elapsed / (60.0 * n)) for op, n in ops.items()}
        if after != before or after < 1.0:
            self._invalidate()

    def _invalidate(self) -> None:
        self._retired.append(self._cache)  # its counts are flushed on the next tick or error
        self._cache = {}

    def _boost_changed(self) -> None:
        boost = self.boost
        boosted = bool(boost.workflows or boost.node_types)
        self._debugging = boosted and boost.settings.debug_logging
        self.record_successes = self._debugging
        self._invalidate()

    # -- resolution (off the hot path: once per key after each invalidation) ----------------
    def _own(
        self, kind: str, workflow: str | None, node_type: str | None, critical: bool
    ) -> _Entry:
        rule: Rule = self._policy.first_match(kind, workflow, node_type, critical)
        if rule.critical:
            return _Entry(1.0, "critical", forced=True)
        if self.boost.is_boosted(workflow, node_type):
            return _Entry(1.0, "error_boost", forced=True)
        rate, reason = rule.rate, rule.id
        multiplier = self.controller.multiplier
        if rule.adaptive and multiplier < 1.0:
            floor = min(rule.rate, self._floors.get((kind, workflow, node_type), 0.0))
            rate, reason = max(rule.rate * multiplier, floor), "adaptive"
        return _Entry(rate, reason, forced=False)

    def _resolve(
        self,
        cache: dict[_Key, _Entry],
        kind: str,
        workflow: str | None,
        node_type: str | None,
        critical: bool,
    ) -> _Entry:
        entry = self._own(kind, workflow, node_type, critical)
        if not entry.forced and kind not in ROOT_KINDS:
            # A child is only kept under kept ancestors, so its true keep probability (the
            # adjusted count the collector weights by) is the smallest rate on its path.
            # Ancestors are assumed to share the span's `critical` flag (the probe inherits it).
            ancestors = [self._own("workflow", workflow, None, critical)]
            if kind != "node" and node_type is not None:
                ancestors.append(self._own("node", workflow, node_type, critical))
            rate = min([entry.keep.rate] + [a.keep.rate for a in ancestors if not a.forced])
            if rate < entry.keep.rate:
                entry = _Entry(rate, entry.keep.reason, forced=False)
        entry.op = (kind, workflow, node_type)
        cache[(kind, workflow, node_type, critical)] = entry
        return entry
