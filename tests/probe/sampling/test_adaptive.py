"""Adaptive control on a simulated clock: converges to target, recovers, respects the floor."""

from __future__ import annotations

import random
from typing import Any

from probe.sampling.adaptive import AdaptiveController
from probe.sampling.policy import AdaptiveSettings

RULES = [
    {"id": "critical", "match": {"workflow": "checkout"}, "critical": True},
    {"id": "llm", "match": {"kind": "llm"}, "rate": 0.5},
    {"id": "d", "rate": 1.0},
]
RNG = random.Random(3)


def simulate(s: Any, clock: Any, offered_per_second: int, seconds: int = 5) -> float:
    """Offer ``offered_per_second`` llm spans for one interval; return the kept spans/s."""
    kept = 0
    for _ in range(offered_per_second * seconds):
        trace = RNG.getrandbits(128)
        kept += s.decide("llm", "wf", "llm", trace, True).sampled
        s.record("llm", "wf", "llm", False)
    clock.advance(seconds)
    s.tick()
    return kept / seconds


def within_band(kept: float, target: float, band: float = 0.1) -> bool:
    return abs(kept / target - 1.0) <= band + 0.05  # + binomial noise of the simulation


def test_overload_converges_to_target_within_three_intervals(make_sampler: Any, clock: Any) -> None:
    s = make_sampler(RULES, clock, adaptive={"target_spans_per_second": 100, "interval_seconds": 5})
    history = [simulate(s, clock, 2000) for _ in range(6)]
    assert history[0] > 900  # 2000/s at rate 0.5 before the first step
    assert all(within_band(kept, 100) for kept in history[3:]), history
    decision = s.decide("llm", "wf", "llm", 0, True)
    assert decision.reason == "adaptive" and decision.rate < 0.05


def test_rates_recover_with_capped_increase_when_load_falls(make_sampler: Any, clock: Any) -> None:
    s = make_sampler(RULES, clock, adaptive={"target_spans_per_second": 100, "interval_seconds": 5})
    for _ in range(3):
        simulate(s, clock, 2000)
    low = s.controller.multiplier
    multipliers = []
    for _ in range(25):
        simulate(s, clock, 150)  # 75/s at full rate: under target, rates go back up
        multipliers.append(s.controller.multiplier)
    steps = [b / a for a, b in zip([low, *multipliers], multipliers, strict=False)]
    assert max(steps) <= 1.25 + 1e-9
    assert multipliers[-1] == 1.0
    assert s.decide("llm", "wf", "llm", 0, True).reason == "llm"


def test_critical_rules_are_never_scaled_down(make_sampler: Any, clock: Any) -> None:
    s = make_sampler(RULES, clock, adaptive={"target_spans_per_second": 10, "interval_seconds": 5})
    for _ in range(3):
        simulate(s, clock, 2000)
    assert s.controller.multiplier < 0.1
    assert s.decide("llm", "checkout", "llm", RNG.getrandbits(128), True).rate == 1.0


def test_floor_keeps_at_least_one_trace_per_minute_per_operation(
    make_sampler: Any, clock: Any
) -> None:
    s = make_sampler(
        RULES,
        clock,
        adaptive={"target_spans_per_second": 0.01, "interval_seconds": 60, "max_decrease": 0.0001},
    )
    for _ in range(3):
        for _ in range(600):  # 600 a minute of this operation, far over the target
            s.record("workflow", "busy", None, False)
            s.decide("workflow", "busy", None, RNG.getrandbits(128), True)
        clock.advance(60)
        s.tick()
    decision = s.decide("workflow", "busy", None, 0, True)
    assert decision.reason == "adaptive"
    assert abs(decision.rate - 1 / 600) < 1e-9  # one of 600 a minute, not the multiplier's rate
    assert s.controller.multiplier < 1 / 600


def test_queue_depth_over_target_scales_rates_down(make_sampler: Any, clock: Any) -> None:
    s = make_sampler(RULES, clock, adaptive={"target_queue_depth": 100, "interval_seconds": 5})
    depth = [400]
    s.set_queue_depth_source(lambda: depth[0])
    clock.advance(5)
    s.tick()
    assert s.controller.multiplier == 0.25
    depth[0] = 100  # on target: inside the dead band, no change
    clock.advance(5)
    s.tick()
    assert s.controller.multiplier == 0.25
    assert s.decide("llm", "wf", "llm", 0, True).rate == 0.125


def test_controller_steps_are_multiplicative_with_a_dead_band() -> None:
    controller = AdaptiveController(
        AdaptiveSettings(target_spans_per_second=100, dead_band=0.1, max_increase=1.25)
    )
    assert controller.update(105, None) == 1.0  # dead band
    assert controller.update(400, None) == 0.25  # fast decrease straight to target
    assert controller.update(95, None) == 0.25  # dead band
    assert controller.update(50, None) == 0.25 * 1.25  # capped increase
    assert controller.update(0, None) == 0.25 * 1.25 * 1.25


def test_no_targets_means_no_adaptation(make_sampler: Any, clock: Any) -> None:
    s = make_sampler(RULES, clock)
    for _ in range(2):
        simulate(s, clock, 500)
    assert s.controller.multiplier == 1.0
    assert s.decide("llm", "wf", "llm", 0, True).reason == "llm"
