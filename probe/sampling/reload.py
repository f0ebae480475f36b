"""Hot reload and the sampler's heartbeat: one daemon thread per policy sampler.

Every ``reload_interval_seconds`` the thread polls the policy source (a file's mtime and size,
or an HTTP endpoint); a changed, valid policy replaces the current one in place, a changed
invalid (or unreachable) one is rejected with one error log line and the old policy stays. The
same thread calls :meth:`PolicySampler.tick` often enough for the error windows and the adaptive
loop.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from probe.sampling.errors import PolicyError
from probe.sampling.sampler import PolicySampler
from probe.sampling.sources import FileSource, PolicySource

logger = logging.getLogger(__name__)


class PolicyWatcher:
    """Applies a changed policy from ``source`` to ``sampler``; :meth:`poll` does one check."""

    def __init__(self, sampler: PolicySampler, source: PolicySource | str | Path) -> None:
        self.sampler = sampler
        self.source = source if not isinstance(source, str | Path) else FileSource(source)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_problem: str | None = None

    def poll(self) -> bool:
        """Check the source once; True when a new policy was applied."""
        try:
            policy = self.source.poll()
        except PolicyError as exc:
            problem = str(exc)
            if problem != self._last_problem:  # one line per distinct problem, not per poll
                self._last_problem = problem
                logger.error("%s; keeping the previous sampling policy", problem)
            return False
        except Exception as exc:  # the host process must never see the probe fail
            logger.error("%s: cannot check sampling policy (%r)", self.source.name, exc)
            return False
        self._last_problem = None
        if policy is None:
            return False
        self.sampler.apply_policy(policy)
        logger.info("%s: sampling policy reloaded (%d rules)", self.source.name, len(policy.rules))
        return True

    def _period(self) -> float:
        settings = self.sampler.policy.settings
        boost = settings.error_boost
        return max(
            0.05,
            min(
                settings.reload_interval_seconds,
                boost.window_seconds / boost.buckets,
                settings.adaptive.interval_seconds,
                1.0,
            ),
        )

    def _run(self) -> None:
        next_poll = 0.0
        elapsed = 0.0
        while not self._stop.wait(period := self._period()):
            elapsed += period
            try:
                self.sampler.tick()
                if elapsed >= next_poll:
                    next_poll = elapsed + self.sampler.policy.settings.reload_interval_seconds
                    self.poll()
            except Exception:  # the host process must never see the probe fail
                logger.exception("sampling heartbeat failed; continuing")

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="flowscope-sampling", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
