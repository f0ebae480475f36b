"""Error boost: a scope over the error threshold is sampled at 100 % and leaves with hysteresis."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

RULES = [
    {"id": "llm", "match": {"kind": "llm"}, "rate": 0.0},
    {"id": "root", "match": {"kind": ["workflow", "node"]}, "rate": 0.0},
    {"id": "d", "rate": 0.0},
]
BOOST = {
    "threshold": 0.01,
    "window_seconds": 60,
    "buckets": 6,
    "min_spans": 20,
    "recover_ratio": 0.5,
    "min_hold_seconds": 30,
}
TRACE = random.Random(1).getrandbits(128)


def span(s: Any, kind: str, workflow: str, node_type: str | None, error: bool) -> None:
    """One finished span as the probe reports it: ``decide`` (which counts it), then ``record``."""
    s.decide(kind, workflow, node_type, TRACE, True)
    s.record(kind, workflow, node_type, error)


def run(s: Any, workflow: str, error: bool) -> None:
    span(s, "llm", workflow, "llm", error)
    span(s, "node", workflow, "llm", error)
    span(s, "workflow", workflow, None, error)


def test_error_rate_above_1pct_samples_the_workflow_at_100pct(
    make_sampler: Any, clock: Any
) -> None:
    s = make_sampler(RULES, clock, error_boost=BOOST)
    for _ in range(99):
        run(s, "wf", error=False)
    assert not s.decide("llm", "wf", "llm", TRACE, True).sampled
    run(s, "wf", error=True)  # 1 of 100 = 1 %: not above the threshold
    assert not s.decide("workflow", "wf", None, TRACE, True).sampled
    run(s, "wf", error=True)  # 2 of 101 > 1 %: boost, at once
    for kind in ("workflow", "node", "llm"):
        decision = s.decide(kind, "wf", "llm" if kind != "workflow" else None, TRACE, False)
        assert decision.sampled and decision.reason == "error_boost" and decision.rate == 1.0
    assert not s.decide("workflow", "other", None, TRACE, True).sampled


def test_no_boost_before_min_spans(make_sampler: Any, clock: Any) -> None:
    s = make_sampler(RULES, clock, error_boost=BOOST)
    for _ in range(5):
        run(s, "wf", error=True)
    assert not s.decide("workflow", "wf", None, TRACE, True).sampled
    for _ in range(15):
        run(s, "wf", error=True)
    assert s.decide("workflow", "wf", None, TRACE, True).sampled


def test_errors_counted_before_min_spans_boost_at_the_next_tick(
    make_sampler: Any, clock: Any
) -> None:
    s = make_sampler(RULES, clock, error_boost=BOOST)
    for index in range(30):
        run(s, "wf", error=index < 3)
    assert not s.decide("workflow", "wf", None, TRACE, True).sampled
    clock.advance(1)
    s.tick()
    assert s.decide("workflow", "wf", None, TRACE, True).reason == "error_boost"


def test_node_type_error_rate_boosts_that_node_type_in_every_workflow(
    make_sampler: Any, clock: Any
) -> None:
    s = make_sampler(RULES, clock, error_boost=BOOST)
    for index in range(40):
        span(s, "node", f"wf{index % 4}", "code", index % 10 == 0)  # 10 % of code nodes fail
        span(s, "workflow", f"wf{index % 4}", None, False)
    assert s.decide("node", "wf9", "code", TRACE, True).reason == "error_boost"
    assert s.decide("code", "wf9", "code", TRACE, True).sampled
    assert not s.decide("node", "wf9", "llm", TRACE, True).sampled
    assert not s.decide("workflow", "wf0", None, TRACE, True).sampled


def test_boost_leaves_with_hysteresis_after_hold_time(make_sampler: Any, clock: Any) -> None:
    s = make_sampler(RULES, clock, error_boost=BOOST)
    for index in range(100):
        run(s, "wf", error=index >= 97)  # 3 %
    assert s.decide("workflow", "wf", None, TRACE, True).sampled
    # 10 s later the window still holds the errors and the hold time is not over.
    clock.advance(10)
    s.tick()
    assert s.decide("workflow", "wf", None, TRACE, True).reason == "error_boost"
    # Errors age out of the 60 s window while traffic continues at 0.8 %: below the threshold
    # but above threshold * recover_ratio (0.5 %), so the boost stays (hysteresis).
    for _ in range(7):
        clock.advance(10)
        for index in range(250):
            run(s, "wf", error=index < 2)
        s.tick()
    assert 0.005 < s.boost.error_rate(("workflow", "wf")) < 0.01
    assert s.decide("workflow", "wf", None, TRACE, True).reason == "error_boost"
    # Clean traffic for a whole window: below 0.5 %, the boost ends.
    for _ in range(7):
        clock.advance(10)
        for _ in range(250):
            run(s, "wf", error=False)
        s.tick()
    decision = s.decide("workflow", "wf", None, TRACE, True)
    assert not decision.sampled and decision.reason == "root"


def test_boost_is_held_for_min_hold_seconds_even_if_errors_stop(
    make_sampler: Any, clock: Any
) -> None:
    s = make_sampler(RULES, clock, error_boost={**BOOST, "window_seconds": 6, "buckets": 6})
    for index in range(100):
        run(s, "wf", error=index >= 95)
    clock.advance(20)  # the 6 s window is empty, but the 30 s hold is not over
    s.tick()
    assert s.decide("workflow", "wf", None, TRACE, True).reason == "error_boost"
    clock.advance(11)
    s.tick()
    assert s.decide("workflow", "wf", None, TRACE, True).reason == "root"


def test_boost_turns_probe_debug_logging_on_and_restores_it(
    make_sampler: Any, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    probe_logger = logging.getLogger("probe")
    probe_logger.setLevel(logging.WARNING)
    try:
        s = make_sampler(RULES, clock, error_boost={**BOOST, "min_hold_seconds": 0})
        with caplog.at_level(logging.INFO, logger="probe.sampling.boost"):
            for index in range(50):
                run(s, "wf", error=index >= 45)
        assert probe_logger.level == logging.DEBUG
        assert s.debug_enabled_for("wf", None)
        assert not s.debug_enabled_for("other", "code")
        assert "error rate of workflow 'wf' is" in caplog.text
        with caplog.at_level(logging.DEBUG, logger="probe"):
            caplog.clear()
            run(s, "wf", error=True)
            s.record("node", "other", "code", False)
        debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
        assert (
            "boosted scope: workflow span of workflow 'wf' node type None finished with an error"
            in debug
        )
        assert not any("'other'" in line for line in debug)
        clock.advance(61)
        s.tick()
        assert probe_logger.level == logging.WARNING
        assert not s.debug_enabled_for("wf", None)
    finally:
        probe_logger.setLevel(logging.NOTSET)


def test_disabled_error_boost_never_boosts(make_sampler: Any, clock: Any) -> None:
    s = make_sampler(RULES, clock, error_boost={**BOOST, "enabled": False})
    for _ in range(50):
        run(s, "wf", error=True)
    assert not s.decide("workflow", "wf", None, TRACE, True).sampled


def test_concurrent_records_decisions_and_ticks_never_raise(make_sampler: Any, clock: Any) -> None:
    import threading

    s = make_sampler(RULES, clock, error_boost={**BOOST, "min_hold_seconds": 0})
    failures: list[BaseException] = []
    stop = threading.Event()

    def traffic(worker: int) -> None:
        try:
            for index in range(3000):
                workflow = f"wf{(worker + index) % 7}"
                s.decide("llm", workflow, "llm", index, True)
                run(s, workflow, error=index % 3 == 0)
        except BaseException as exc:
            failures.append(exc)

    def ticker() -> None:
        while not stop.is_set():
            try:
                clock.advance(0.01)  # 60 s window: nothing ages out during the test
                s.tick()
            except BaseException as exc:
                failures.append(exc)

    workers = [threading.Thread(target=traffic, args=(n,)) for n in range(4)]
    background = threading.Thread(target=ticker)
    background.start()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    background.join()
    assert failures == []
    assert s.boost.workflows <= {f"wf{n}" for n in range(7)}
    assert "llm" in s.boost.node_types  # a third of the llm nodes failed
