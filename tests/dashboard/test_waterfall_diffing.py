"""The trace tree (hierarchy, roll-ups) and the highlighted diffs."""

from __future__ import annotations

from typing import Any

from dashboard.diffing import INS, diff_html, json_diff, text_diff_html
from dashboard.replies import Span
from dashboard.waterfall import EMPTY_COLOR, KIND_COLORS, tree_rows, waterfall_figure


def span(sid: str, parent: str, start: int, kind: str, **attrs: Any) -> Span:
    return Span(
        span_id=sid,
        parent_span_id=parent,
        name=f"{kind} {sid}",
        start_time_unix_nano=start,
        duration_ns=10,
        status_code="Unset",
        attributes={"flowscope.span.kind": kind, **attrs},
    )


def test_rows_follow_the_real_hierarchy_and_roll_up_llm_usage_only() -> None:
    spans = [
        span(
            "llm2",
            "round1",
            40,
            "llm",
            **{"gen_ai.usage.input_tokens": "7", "flowscope.cost.usd": "0.5"},
        ),
        span("root", "", 0, "workflow"),
        span("iter", "root", 10, "node", **{"gen_ai.usage.input_tokens": "999"}),
        span("round1", "iter", 30, "iteration"),
        span("round0", "iter", 20, "iteration"),
        span(
            "llm1",
            "round0",
            25,
            "llm",
            **{"gen_ai.usage.input_tokens": "5", "gen_ai.usage.output_tokens": "2"},
        ),
        span("orphan", "not-in-trace", 5, "http"),
    ]
    rows = tree_rows(spans)
    assert [(r.span.span_id, r.depth) for r in rows] == [
        ("root", 0),
        ("iter", 1),
        ("round0", 2),
        ("llm1", 3),
        ("round1", 2),
        ("llm2", 3),
        ("orphan", 0),
    ]
    by_id = {r.span.span_id: r for r in rows}
    assert by_id["iter"].input_tokens == 12  # the node's own (bogus) tokens are not counted
    assert by_id["root"].output_tokens == 2
    assert by_id["round1"].cost_usd == 0.5
    fig = waterfall_figure(rows, selected="llm2")
    assert list(fig.data[0].base) == [0, 10e-6, 20e-6, 25e-6, 30e-6, 40e-6, 5e-6]


def test_json_key_diff_names_added_removed_and_changed_keys() -> None:
    changes = json_diff({"a": 1, "b": {"c": "x"}, "gone": 0}, {"a": 1, "b": {"c": "y"}, "new": 2})
    kinds = {c.path: c.kind for c in changes}
    assert kinds == {"a": "same", "b.c": "changed", "gone": "removed", "new": "added"}


def test_text_diff_marks_only_the_changed_words_and_escapes_html() -> None:
    left, right = text_diff_html("the <b>cat</b> sat", "the <b>dog</b> sat")
    assert "&lt;b&gt;" in left and "<b>cat" not in left
    assert INS.format("dog") in right
    assert "sat" in right and INS.format("sat") not in right


def test_diff_picks_key_diff_for_json_objects_and_word_diff_otherwise() -> None:
    left, right = diff_html('{"text": "a b"}', '{"text": "a c"}')
    assert "<b>text</b>" in right and INS.format("c") in right
    assert "<b>text</b>" in left
    left, right = diff_html("plain old", "plain new")
    assert "<b>" not in right and INS.format("new") in right
    assert "<b>" not in left


def test_empty_retrieval_bar_stands_out() -> None:
    rows = tree_rows(
        [
            span("r", "", 0, "retrieval", **{"flowscope.retrieval.result_count": "0"}),
            span("ok", "", 1, "retrieval", **{"flowscope.retrieval.result_count": "3"}),
        ]
    )
    colors = list(waterfall_figure(rows).data[0].marker.color)
    assert colors == [EMPTY_COLOR, KIND_COLORS["retrieval"]]
