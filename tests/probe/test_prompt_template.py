"""The llm span records the node's prompt template (redacted, truncated) for prompt versions."""

from __future__ import annotations

from typing import Any

from probe_support import Traced, _edge, _node, runner

from workflow_core.dsl import DifyApp, parse_app

TEMPLATE_KEY = "flowscope.prompt.template"


def llm_app(prompt_template: Any, *, name: str = "Prompted") -> DifyApp:
    """start(topic) → llm Ask → end."""
    nodes = [
        _node(
            "start",
            {
                "type": "start",
                "title": "Start",
                "variables": [
                    {"variable": "topic", "label": "topic", "type": "text-input", "required": True}
                ],
            },
        ),
        _node(
            "ask",
            {
                "type": "llm",
                "title": "Ask",
                "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat"},
                "prompt_template": prompt_template,
            },
        ),
        _node(
            "end",
            {
                "type": "end",
                "title": "End",
                "outputs": [{"variable": "text", "value_selector": ["ask", "text"]}],
            },
        ),
    ]
    raw = {
        "kind": "app",
        "version": "0.1.5",
        "app": {"name": name, "mode": "workflow"},
        "workflow": {
            "graph": {"nodes": nodes, "edges": [_edge("start", "ask"), _edge("ask", "end")]}
        },
    }
    return parse_app(raw, source="prompted.yml")


def chat_templates(traced: Traced) -> list[str]:
    return [
        str((s.attributes or {}).get(TEMPLATE_KEY))
        for s in traced.spans()
        if (s.attributes or {}).get("flowscope.span.kind") == "llm"
    ]


def test_llm_span_records_the_unrendered_template_same_for_every_input(traced: Traced) -> None:
    app = llm_app(
        [
            {"role": "system", "text": "You are terse."},
            {"role": "user", "text": "Tell me about {{#start.topic#}}"},
        ]
    )
    for topic in ("cats", "dogs"):
        assert runner(app).run({"topic": topic}).status == "succeeded"
    expected = "[system]\nYou are terse.\n\n[user]\nTell me about {{#start.topic#}}"
    assert chat_templates(traced) == [expected, expected]
    # Node spans do not repeat it: it belongs to the llm call.
    assert all(TEMPLATE_KEY not in (s.attributes or {}) for s in traced.by_name("llm Ask"))


def test_jinja2_messages_record_their_jinja_source(traced: Traced) -> None:
    app = llm_app(
        [{"role": "user", "edition_type": "jinja2", "text": "", "jinja2_text": "Hi {{ x }}"}]
    )
    assert runner(app).run({"topic": "t"}).status == "succeeded"
    assert chat_templates(traced) == ["[user]\nHi {{ x }}"]


def test_prompt_template_is_redacted_and_truncated(traced: Traced) -> None:
    secret = "sk-" + "A1b2C3d4" * 6
    long_text = "Summarise {{#start.topic#}}. " + "word " * 2000
    app = llm_app([{"role": "system", "text": f"api_key={secret}\n{long_text}"}])
    assert runner(app).run({"topic": "t"}).status == "succeeded"
    [template] = chat_templates(traced)
    assert secret not in template
    assert "[REDACTED]" in template
    assert template.endswith("characters]") and "…[truncated, " in template
    assert len(template.encode()) < 4200
