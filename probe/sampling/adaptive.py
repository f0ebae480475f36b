"""Adaptive control: scale non-critical rates so exported load stays near the policy's targets.

Jaeger-style: once per interval the load is measured against its targets (kept spans per second,
export queue depth); the worse of the two ratios drives a multiplicative step of one global
multiplier applied to every adaptive rule. Outside a dead band around the target the step is
``1 / load``: a decrease goes straight to the target (fast decrease, bounded below by
``max_decrease``), an increase is capped at ``max_increase`` per interval. The multiplier never
exceeds 1, so the controller only ever lowers the configured rates; the per-operation floor
(at least ``min_traces_per_minute``) is applied by the sampler.
"""

from __future__ import annotations

from probe.sampling.policy import AdaptiveSettings

MIN_MULTIPLIER = 1e-6


class AdaptiveController:
    """Pure controller: feed it one measurement per interval, read ``multiplier``."""

    def __init__(self, settings: AdaptiveSettings) -> None:
        self.settings = settings
        self.multiplier = 1.0

    def load(self, spans_per_second: float, queue_depth: int | None) -> float | None:
        """Measured load as a multiple of the target (1.0 = on target); None without targets."""
        ratios = []
        if self.settings.target_spans_per_second is not None:
            ratios.append(spans_per_second / self.settings.target_spans_per_second)
        if self.settings.target_queue_depth is not None and queue_depth is not None:
            ratios.append(queue_depth / self.settings.target_queue_depth)
        return max(ratios) if ratios else None

    def update(self, spans_per_second: float, queue_depth: int | None) -> float:
        """One control step; returns the new multiplier."""
        if not self.settings.enabled:
            self.multiplier = 1.0
            return self.multiplier
        load = self.load(spans_per_second, queue_depth)
        if load is None:
            return self.multiplier
        band = self.settings.dead_band
        if load > 1.0 + band:
            factor = max(1.0 / load, self.settings.max_decrease)
        elif load < 1.0 - band:
            factor = (
                self.settings.max_increase
                if load <= 0
                else min(1.0 / load, self.settings.max_increase)
            )
        else:
            factor = 1.0
        self.multiplier = min(1.0, max(MIN_MULTIPLIER, self.multiplier * factor))
        return self.multiplier
