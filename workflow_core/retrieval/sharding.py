"""Sharded knowledge bases: one logical KB searched as several shard KBs (scatter-gather).

Configured under ``sharded:`` in ``FLOWSCOPE_KB_CONFIG``::

    sharded:
      support-docs:                       # the logical KB (what `datasets:` map ids to)
        timeout_ms: 300                   # per shard attempt
        retry: {attempts: 2, backoff_ms: 50}   # extra attempts after the first
        fallback: true                    # after the retries, search the shard's replica
        on_shard_failure: empty           # empty | error: what a lost shard does to the search
        shards:
          - {kb: support-docs-1}
          - {kb: support-docs-2, replica: support-docs-2-replica,
             fault: {delay_ms: 2000}}     # demo/test knob: this shard answers too late

Each shard is an ordinary local KB (``flowscope kb add support-docs-1 …``). Every shard is
searched on a worker thread and waited for at most ``timeout_ms``; a failed or late attempt is
retried ``retry.attempts`` times, then, with ``fallback``, the shard's ``replica`` (if it has
one) is searched once. A shard that still has no answer is *lost*: with
``on_shard_failure: empty`` (the default, how a scatter-gather client without a retry policy
behaves) the whole search returns nothing — ranking top-k over the shards that happened to answer
would silently give wrong answers — and with ``error`` it raises. Either way every failed attempt
is recorded in the result's ``shard_errors`` (the probe puts them on the retrieval span) and
logged as a warning.

``fault`` is a fault-injection knob for demos and tests only: ``delay_ms`` holds every attempt of
that shard (or the first ``attempts`` attempts of each search) back for that long before it
searches, so a delay longer than ``timeout_ms`` is a shard timeout.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workflow_core.retrieval.base import KnowledgeError, RetrievedChunk, ShardError

logger = logging.getLogger(__name__)


class ShardFault(BaseModel):
    """Demo/test knob: hold a shard's attempts back by ``delay_ms``."""

    model_config = ConfigDict(extra="forbid")

    delay_ms: int = Field(gt=0)
    #: Delay only the first N attempts of each search (``None``: every attempt, a dead shard).
    attempts: int | None = Field(default=None, ge=1)

    def delays(self, attempt: int) -> bool:
        return self.attempts is None or attempt <= self.attempts


class ShardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb: str = Field(min_length=1)
    replica: str | None = None
    fault: ShardFault | None = None


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=0, ge=0, le=10)  # extra attempts after the first
    backoff_ms: int = Field(default=50, ge=0)


class ShardedIndexConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shards: list[ShardConfig] = Field(min_length=1)
    timeout_ms: int = Field(default=1000, gt=0)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    fallback: bool = False
    on_shard_failure: Literal["empty", "error"] = "empty"

    @model_validator(mode="after")
    def _replica_for_fallback(self) -> ShardedIndexConfig:
        if self.fallback and not any(shard.replica for shard in self.shards):
            raise ValueError(
                "fallback is on but no shard names a `replica:`; name the replica KB of the "
                "shards that have one, or set fallback: false"
            )
        return self


#: Searches one (shard) KB: ``(kb_name) -> hits``.
ShardSearch = Callable[[str], list[RetrievedChunk]]


@dataclass(frozen=True)
class ShardedOutcome:
    hits: list[RetrievedChunk]
    errors: tuple[ShardError, ...]
    lost: tuple[str, ...]


class _ShardTimeout(Exception):
    pass


class ShardedSearcher:
    """Scatter-gather over the shards of one logical KB with timeout, retry and fallback."""

    def __init__(self, name: str, config: ShardedIndexConfig) -> None:
        self.name = name
        self.config = config
        shards = len(config.shards)
        # Two pools: shard coordinators wait on attempts, so they must never share workers.
        self._shards = ThreadPoolExecutor(shards, thread_name_prefix=f"kb-{name}")
        self._attempts = ThreadPoolExecutor(2 * shards + 2, thread_name_prefix=f"kb-{name}-try")

    def search(self, search: ShardSearch) -> ShardedOutcome:
        # Shards run in parallel; each thread carries the caller's context (the probe's scope).
        futures = [
            self._shards.submit(contextvars.copy_context().run, self._search_shard, shard, search)
            for shard in self.config.shards
        ]
        hits: list[RetrievedChunk] = []
        errors: list[ShardError] = []
        lost: list[str] = []
        for shard, future in zip(self.config.shards, futures, strict=True):
            shard_hits, shard_errors = future.result()
            errors.extend(shard_errors)
            if shard_hits is None:
                lost.append(shard.kb)
            else:
                hits.extend(shard_hits)
        for error in errors:
            logger.warning("knowledge base %s: %s", self.name, error.describe())
        if lost:
            if self.config.on_shard_failure == "error":
                raise KnowledgeError(
                    f"knowledge base {self.name!r}: shard(s) {lost} did not answer "
                    f"({'; '.join(e.describe() for e in errors)})"
                )
            return ShardedOutcome([], tuple(errors), tuple(lost))
        return ShardedOutcome(hits, tuple(errors), ())

    def _search_shard(
        self, shard: ShardConfig, search: ShardSearch
    ) -> tuple[list[RetrievedChunk] | None, list[ShardError]]:
        """The shard's hits (``None`` when it is lost) and its failed attempts."""
        errors: list[ShardError] = []
        policy = self.config.retry
        for attempt in range(1, policy.attempts + 2):
            if attempt > 1 and policy.backoff_ms:
                time.sleep(policy.backoff_ms * (2 ** (attempt - 2)) / 1000)
            try:
                return self._attempt(shard.kb, shard.fault, attempt, search), errors
            except Exception as exc:  # a shard's failure is recorded, never lost
                errors.append(self._error(shard.kb, attempt, exc))
        if self.config.fallback and shard.replica:
            try:
                return self._attempt(shard.replica, None, 1, search), errors
            except Exception as exc:
                errors.append(self._error(shard.replica, 1, exc, replica_of=shard.kb))
        return None, errors

    def _attempt(
        self, kb: str, fault: ShardFault | None, attempt: int, search: ShardSearch
    ) -> list[RetrievedChunk]:
        timeout = self.config.timeout_ms / 1000
        cancelled = threading.Event()

        def run() -> list[RetrievedChunk]:
            # Injected slowness; ends early once the caller has given up on this attempt.
            if (
                fault is not None
                and fault.delays(attempt)
                and cancelled.wait(fault.delay_ms / 1000)
            ):
                return []
            return search(kb)

        future: Future[list[RetrievedChunk]] = self._attempts.submit(
            contextvars.copy_context().run, run
        )
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            cancelled.set()
            raise _ShardTimeout(f"timed out after {self.config.timeout_ms} ms") from None

    def _error(
        self, kb: str, attempt: int, exc: Exception, *, replica_of: str | None = None
    ) -> ShardError:
        kind = "timeout" if isinstance(exc, _ShardTimeout) else type(exc).__name__
        return ShardError(
            index=self.name,
            shard=kb,
            attempt=attempt,
            kind=kind,
            message=str(exc),
            replica_of=replica_of,
        )
