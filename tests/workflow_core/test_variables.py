"""Textual forms and template rendering (SPEC §3.5-§3.6)."""

from __future__ import annotations

from typing import Any

import pytest

from workflow_core.variables import VariablePool, infer_type, render, to_text


@pytest.mark.parametrize(
    ("value", "text", "markdown"),
    [
        (None, "", ""),
        ("abc", "abc", "abc"),
        (3, "3", "3"),
        (3.0, "3.0", "3.0"),
        (True, "True", "True"),
        ({"k": "ü"}, '{"k": "ü"}', '{\n  "k": "ü"\n}'),
        (["a", "b"], '["a", "b"]', "- a\n- b"),
        ([1, 2], "[1, 2]", "- 1\n- 2"),
        ([{"a": 1}], "[{'a': 1}]", '- {"a": 1}'),
        ([], "", ""),
    ],
)
def test_text_and_markdown_forms(value: Any, text: str, markdown: str) -> None:
    assert to_text(value, "text") == text
    assert to_text(value, "markdown") == markdown


def test_files_render_as_links_in_markdown_only() -> None:
    image = {
        "dify_model_identity": "__dify__file__",
        "type": "image",
        "filename": "a.png",
        "url": "https://x/a.png",
    }
    assert to_text(image, "text") == ""
    assert to_text([image], "markdown") == "![a.png](https://x/a.png)"


def test_render_replaces_references_and_reports_missing_ones() -> None:
    pool = VariablePool({("n1", "text"): "hello", ("sys", "query"): "q", ("n2", "obj"): {"a": 1}})
    missing: list[tuple[str, ...]] = []
    out = render(
        "{{#n1.text#}} / {{#sys.query#}} / {{#ghost.x#}} / {{#context#}}", pool, on_missing=missing
    )
    assert out == "hello / q /  / {{#context#}}"
    assert missing == [("ghost", "x")]
    with pytest.raises(KeyError, match=r"ghost\.x"):
        render("{{#ghost.x#}}", pool, strict=True)


def test_forked_pool_does_not_write_back() -> None:
    pool = VariablePool({("a", "b"): 1})
    fork = pool.fork()
    fork.set(("a", "b"), 2)
    fork.set(("c", "d"), 3)
    assert pool.get(("a", "b")) == 1 and not pool.has(("c", "d"))


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (["a"], "array[string]"),
        ([1, 2.5], "array[number]"),
        ([{}], "array[object]"),
        ([1, "a"], "array[any]"),
        ([], "array[any]"),
        ({"x": 1}, "object"),
    ],
)
def test_type_inference(value: Any, kind: str) -> None:
    assert infer_type(value) == kind
