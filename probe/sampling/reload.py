"""Hot reload and the sampler's heartbeat: one daemon thread per policy sampler.

Every ``reload_interval_seconds`` the thread compares the policy file's (mtime, size) with what
it last loaded; a changed, valid file replaces the policy in place, a changed invalid one is
rejected with one error log line and the old policy stays. The same thread calls
:meth:`PolicySampler.tick` often enough for the error windows and the adaptive loop.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from probe.sampling.errors import PolicyError
from probe.sampling.policy import load_policy
from probe.sampling.sampler import PolicySampler

logger = logging.getLogger(__name__)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class PolicyWatcher:
    """Reloads ``path`` into ``sampler`` when it changes; :meth:`poll` does one check."""

    def __init__(self, sampler: PolicySampler, path: str | Path) -> None:
        self.sampler = sampler
        self.path = Path(path)
        self._stamp = _stamp(self.path)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def poll(self) -> bool:
        """Check the file once; True when a new policy was applied."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        if stamp is None:
            logger.error(
                "%s: sampling policy file disappeared; keeping the previous policy", self.path
            )
            return False
        try:
            policy = load_policy(self.path)
        except PolicyError as exc:
            logger.error("%s; keeping the previous sampling policy", exc)
            return False
        self.sampler.apply_policy(policy)
        logger.info("%s: sampling policy reloaded (%d rules)", self.path, len(policy.rules))
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
        while not self._stop.wait(self._period()):
            elapsed += self._period()
            try:
                self.sampler.tick()
                if elapsed >= next_poll:
                    next_poll = elapsed + self.sampler.policy.settings.reload_interval_seconds
                    self.poll()
            except Exception:  # the host process must never see the probe fail
                logger.exception("sampling heartbeat failed; continuing")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="flowscope-sampling", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
