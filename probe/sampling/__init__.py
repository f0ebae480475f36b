"""Sampling decisions for the probe: policies from YAML, error boost, adaptive control.

``import probe.sampling`` stays light (no pydantic, no YAML): :func:`load_sampler` imports the
policy machinery only when a policy file is actually configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.sampling.api import ALWAYS_ON, Decision, SpanSampler

if TYPE_CHECKING:
    from collections.abc import Callable

    from probe.sampling.sampler import PolicySampler

__all__ = ["ALWAYS_ON", "Decision", "SpanSampler", "load_sampler"]


def load_sampler(
    policy_path: str | None,
    *,
    clock: Callable[[], float] | None = None,
    watch: bool = True,
) -> SpanSampler:
    """The sampler for a policy file or URL, or :data:`ALWAYS_ON` when ``policy_path`` is None.

    ``policy_path`` is a YAML file, or an ``http(s)://`` URL serving the same document (YAML or
    JSON; e.g. the collector's ``/api/sampling/{service}``), polled like the file. Raises
    :class:`probe.sampling.errors.PolicyError` (naming the file, the rule path and the bad
    value) when the policy is invalid; the probe catches it and falls back to ALWAYS_ON. With
    ``watch`` a daemon thread reloads the file when it changes and drives the error windows and
    the adaptive loop; without it the caller calls ``sampler.tick()`` (tests, simulated clocks).
    """
    if policy_path is None:
        return ALWAYS_ON
    return _policy_sampler(policy_path, clock=clock, watch=watch)


def _policy_sampler(
    policy_path: str, *, clock: Callable[[], float] | None, watch: bool
) -> PolicySampler:
    import time

    from probe.sampling.reload import PolicyWatcher
    from probe.sampling.sampler import PolicySampler
    from probe.sampling.sources import source_for

    source = source_for(policy_path)
    sampler = PolicySampler(source.load(), clock=clock or time.monotonic)
    watcher = PolicyWatcher(sampler, source)
    sampler.watcher = watcher
    if watch:
        watcher.start()
    return sampler
