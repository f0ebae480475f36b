"""Rule matching and trace-consistent decisions."""

from __future__ import annotations

import random
from typing import Any

from probe.sampling.api import Decision
from probe.sampling.sampler import PolicySampler

RNG = random.Random(7)
TRACES = [RNG.getrandbits(128) for _ in range(20_000)]


def kept_fraction(s: PolicySampler, *args: Any, critical: bool = False) -> float:
    decide = s.decide
    kept = sum(decide(*args, trace, True, critical).sampled for trace in TRACES)
    return kept / len(TRACES)


def test_kind_rule_keeps_its_rate_of_llm_spans(make_sampler: Any) -> None:
    s = make_sampler([{"id": "llm", "match": {"kind": "llm"}, "rate": 0.2}, {"id": "default"}])
    assert abs(kept_fraction(s, "llm", "wf", "llm") - 0.2) < 0.015
    assert kept_fraction(s, "tool", "wf", "tool") == 1.0
    assert s.decide("llm", "wf", "llm", TRACES[0], True).reason == "llm"
    assert s.decide("llm", "wf", "llm", TRACES[0], True).rate == 0.2


def test_kind_list_matches_any_listed_kind(make_sampler: Any) -> None:
    s = make_sampler(
        [{"id": "search", "match": {"kind": ["retrieval", "embedding"]}, "rate": 0.5}, {"id": "d"}]
    )
    assert abs(kept_fraction(s, "retrieval", "wf", "knowledge-retrieval") - 0.5) < 0.015
    assert abs(kept_fraction(s, "embedding", "wf", "knowledge-retrieval") - 0.5) < 0.015
    assert kept_fraction(s, "llm", "wf", "llm") == 1.0


def test_node_type_rule_applies_to_that_node_type_only(make_sampler: Any) -> None:
    s = make_sampler([{"id": "code", "match": {"node_type": "code"}, "rate": 0.0}, {"id": "d"}])
    assert kept_fraction(s, "code", "wf", "code") == 0.0
    assert kept_fraction(s, "node", "wf", "code") == 0.0
    assert kept_fraction(s, "node", "wf", "llm") == 1.0


def test_workflow_glob_rule_matches_name(make_sampler: Any) -> None:
    s = make_sampler([{"id": "seo", "match": {"workflow": "SEO_*"}, "rate": 0.25}, {"id": "d"}])
    assert abs(kept_fraction(s, "workflow", "SEO_Slug_Generator", None) - 0.25) < 0.015
    assert kept_fraction(s, "workflow", "translation_workflow", None) == 1.0
    assert kept_fraction(s, "workflow", None, None) == 1.0


def test_critical_attribute_rule_keeps_every_span_even_under_a_dropped_parent(
    make_sampler: Any,
) -> None:
    s = make_sampler(
        [
            {"id": "vip", "match": {"attributes": {"critical": True}}, "critical": True},
            {"id": "d", "rate": 0.0},
        ]
    )
    assert s.decide("llm", "wf", "llm", TRACES[0], False, critical=True) == Decision(
        True, 1.0, "critical"
    )
    assert not s.decide("llm", "wf", "llm", TRACES[0], True, critical=False).sampled


def test_critical_false_attribute_matches_only_non_critical_spans(make_sampler: Any) -> None:
    s = make_sampler(
        [{"id": "bulk", "match": {"attributes": {"critical": False}}, "rate": 0.0}, {"id": "d"}]
    )
    assert kept_fraction(s, "llm", "wf", "llm") == 0.0
    assert kept_fraction(s, "llm", "wf", "llm", critical=True) == 1.0


def test_critical_workflow_rule_reports_reason_critical(make_sampler: Any) -> None:
    s = make_sampler(
        [
            {"id": "pay", "match": {"workflow": "checkout"}, "critical": True},
            {"id": "d", "rate": 0.1},
        ]
    )
    assert kept_fraction(s, "llm", "checkout", "llm") == 1.0
    assert s.decide("llm", "checkout", "llm", 1, True).reason == "critical"


def test_first_matching_rule_wins(make_sampler: Any) -> None:
    s = make_sampler(
        [
            {"id": "seo-llm", "match": {"kind": "llm", "workflow": "SEO*"}, "rate": 1.0},
            {"id": "llm", "match": {"kind": "llm"}, "rate": 0.0},
            {"id": "d"},
        ]
    )
    assert s.decide("llm", "SEO_Slug_Generator", "llm", TRACES[1], True).reason == "seo-llm"
    assert kept_fraction(s, "llm", "SEO_Slug_Generator", "llm") == 1.0
    assert kept_fraction(s, "llm", "translation_workflow", "llm") == 0.0


def test_default_rule_applies_when_nothing_else_matches(make_sampler: Any) -> None:
    s = make_sampler(
        [{"id": "llm", "match": {"kind": "llm"}, "rate": 0.0}, {"id": "fallback", "rate": 0.3}]
    )
    decision = s.decide("http", "wf", "http-request", TRACES[2], True)
    assert decision.reason == "fallback" and decision.rate == 0.3


def test_decision_is_the_trace_id_ratio_comparison_of_the_low_64_bits(make_sampler: Any) -> None:
    s = make_sampler([{"id": "d", "rate": 0.5}])
    high = (0xFFFF << 64) | (1 << 62)  # low 64 bits = 0.25 * 2**64: kept at rate 0.5
    low_drop = 3 << 62  # low 64 bits = 0.75 * 2**64: dropped at rate 0.5
    assert s.decide("workflow", "wf", None, high, False).sampled
    assert not s.decide("workflow", "wf", None, low_drop, False).sampled


def test_lower_rate_spans_are_only_kept_in_traces_whose_higher_rate_spans_are_kept(
    make_sampler: Any,
) -> None:
    s = make_sampler(
        [
            {"id": "llm", "match": {"kind": "llm"}, "rate": 0.2},
            {"id": "ret", "match": {"kind": "retrieval"}, "rate": 0.5},
            {"id": "d"},
        ]
    )
    for trace in TRACES[:5000]:
        if s.decide("llm", "wf", "llm", trace, True).sampled:
            assert s.decide("retrieval", "wf", "knowledge-retrieval", trace, True).sampled


def test_child_of_a_dropped_parent_is_dropped_unless_critical(make_sampler: Any) -> None:
    s = make_sampler([{"id": "d", "rate": 1.0}])
    assert not s.decide("llm", "wf", "llm", TRACES[0], False).sampled
    assert s.decide("workflow", "wf", None, TRACES[0], False).sampled  # a root needs no parent


def test_child_rate_is_clamped_to_its_workflow_rate_for_a_true_adjusted_count(
    make_sampler: Any,
) -> None:
    s = make_sampler(
        [{"id": "root", "match": {"kind": "workflow"}, "rate": 0.1}, {"id": "d", "rate": 1.0}]
    )
    decision = s.decide("llm", "wf", "llm", TRACES[0], True)
    assert decision.rate == 0.1
    assert decision.reason == "d"
