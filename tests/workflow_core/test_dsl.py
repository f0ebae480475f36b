"""Loading and validation: the corpus loads, malformed input names file + node + field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from wfc_support import CORPUS, edge, make_app, node

from workflow_core.dsl import load_app, parse_app
from workflow_core.errors import DSLError
from workflow_core.validation import validate_app

CORPUS_FILES = sorted(CORPUS.glob("*.yml"))


def test_corpus_has_13_files() -> None:
    assert len(CORPUS_FILES) == 13


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_every_corpus_file_loads_and_validates(path: Path) -> None:
    app = load_app(path)
    assert app.mode in ("workflow", "advanced-chat")
    assert all(n.type for n in app.nodes), "canvas notes must be dropped"
    assert sum(n.type == "start" for n in app.nodes) == 1


def test_notes_are_dropped_from_deep_researcher() -> None:
    raw = yaml.safe_load((CORPUS / "Deep_Researcher_On_Dify.yml").read_text())
    notes = [n for n in raw["workflow"]["graph"]["nodes"] if n["type"] == "custom-note"]
    app = load_app(CORPUS / "Deep_Researcher_On_Dify.yml")
    assert len(notes) == 14
    assert len(app.nodes) == len(raw["workflow"]["graph"]["nodes"]) - 14


def test_legacy_iteration_entry_gets_a_synthetic_start() -> None:
    app = load_app(CORPUS / "Jina_Reader_Jinja.yml")
    iteration = next(n for n in app.nodes if n.type == "iteration")
    start = app.node(iteration.data["start_node_id"])
    assert start.type == "iteration-start" and start.parent_id == iteration.id
    first = iteration.data["_legacy_first_child"]
    assert any(e.source == start.id and e.target == first for e in app.edges)


def test_legacy_if_else_conditions_become_one_true_case() -> None:
    app = make_app(
        [
            node("s", "start", variables=[{"variable": "x", "type": "text-input"}]),
            node(
                "c",
                "if-else",
                logical_operator="and",
                conditions=[
                    {"variable_selector": ["s", "x"], "comparison_operator": "is", "value": "a"}
                ],
            ),
        ],
        [edge("s", "c")],
    )
    cases = app.node("c").data["cases"]
    assert cases == [
        {
            "case_id": "true",
            "logical_operator": "and",
            "conditions": [
                {"variable_selector": ["s", "x"], "comparison_operator": "is", "value": "a"}
            ],
        }
    ]


def test_missing_file_is_a_dsl_error(tmp_path: Path) -> None:
    with pytest.raises(DSLError, match=r"nope\.yml: file not found"):
        load_app(tmp_path / "nope.yml")


def test_yaml_that_is_not_a_dify_app_is_rejected(tmp_path: Path) -> None:
    file = tmp_path / "other.yml"
    file.write_text("name: something\nsteps: [1, 2]\n")
    with pytest.raises(DSLError, match=r"other.yml: not a Dify app export"):
        load_app(file)


def test_edge_to_unknown_node_names_file_edge_and_node() -> None:
    with pytest.raises(DSLError) as info:
        make_app([node("s", "start")], [edge("s", "ghost")], source="bad_edge.yml")
    message = str(info.value)
    assert "bad_edge.yml" in message and "ghost" in message and "'target'" in message


def test_unknown_node_type_names_file_node_and_field() -> None:
    app = make_app([node("s", "start"), node("x1", "teleport")], [edge("s", "x1")])
    with pytest.raises(DSLError) as info:
        validate_app(app)
    assert str(info.value) == (
        "synthetic.yml: node x1: field 'data.type': unknown node type 'teleport'"
    )


def test_selector_to_missing_node_names_file_node_and_field() -> None:
    app = make_app(
        [
            node("s", "start"),
            node("e", "end", outputs=[{"variable": "o", "value_selector": ["nowhere", "text"]}]),
        ],
        [edge("s", "e")],
    )
    with pytest.raises(DSLError) as info:
        validate_app(app)
    message = str(info.value)
    assert "synthetic.yml: node e (end): field 'outputs[0].value_selector'" in message
    assert "unknown node nowhere" in message


def test_template_reference_to_missing_node_is_rejected() -> None:
    app = make_app(
        [node("s", "start"), node("a", "answer", answer="hi {{#ghost.text#}}")],
        [edge("s", "a")],
        mode="advanced-chat",
    )
    with pytest.raises(DSLError, match=r"node a \(answer\): field 'answer'.*unknown node ghost"):
        validate_app(app)


def test_cycle_that_is_not_a_loop_is_rejected() -> None:
    app = make_app(
        [
            node("s", "start"),
            node("t1", "template-transform", template="a"),
            node("t2", "template-transform", template="b"),
        ],
        [edge("s", "t1"), edge("t1", "t2"), edge("t2", "t1")],
    )
    with pytest.raises(DSLError) as info:
        validate_app(app)
    message = str(info.value)
    assert message.startswith("synthetic.yml: node t1: field 'edges': cycle t1 -> t2 -> t1")


def test_newer_dsl_version_is_rejected_with_file_and_field() -> None:
    with pytest.raises(DSLError) as info:
        make_app([node("s", "start")], [], version="9.0.0", source="future.yml")
    assert str(info.value).startswith("future.yml: field 'version': DSL version 9.0.0 is newer")


def test_node_field_error_names_the_field_and_value() -> None:
    app = make_app(
        [node("s", "start"), node("lo", "list-operator", variable=["s"])],
        [edge("s", "lo")],
    )
    with pytest.raises(DSLError, match=r"node lo \(list-operator\): field 'variable':.*\['s'\]"):
        validate_app(app)


def test_unknown_conversation_variable_is_rejected() -> None:
    app = make_app(
        [node("s", "start"), node("a", "answer", answer="{{#conversation.missing#}}")],
        [edge("s", "a")],
        mode="advanced-chat",
    )
    with pytest.raises(DSLError, match=r"unknown conversation variable conversation\.missing"):
        validate_app(app)


def test_unsupported_code_language_fails_validation() -> None:
    app = make_app(
        [node("s", "start"), node("c", "code", code_language="javascript", code="x")],
        [edge("s", "c")],
    )
    with pytest.raises(DSLError, match=r"node c \(code\): field 'code_language'.*not supported"):
        validate_app(app)


def test_app_mode_without_graph_is_rejected() -> None:
    raw = {"app": {"name": "x", "mode": "chat"}, "kind": "app", "version": "0.1.5"}
    with pytest.raises(DSLError, match=r"field 'app.mode' must be 'workflow' or 'advanced-chat'"):
        parse_app(raw, source="chat.yml")


def test_edge_from_an_unknown_branch_handle_is_rejected() -> None:
    app = make_app(
        [
            node("s", "start"),
            node("c", "if-else", cases=[{"case_id": "yes", "conditions": []}]),
            node("t", "template-transform", template="x"),
        ],
        [edge("s", "c"), edge("c", "t", "maybe")],
    )
    with pytest.raises(DSLError) as info:
        validate_app(app)
    assert str(info.value) == (
        "synthetic.yml: edge c-maybe-t: field 'sourceHandle': node c (if-else) has no handle "
        "'maybe'; expected one of ['false', 'yes']"
    )


def test_jinja_syntax_error_fails_validation() -> None:
    app = make_app(
        [node("s", "start"), node("t", "template-transform", template="{% for x in %}")],
        [edge("s", "t")],
    )
    with pytest.raises(DSLError, match=r"node t \(template-transform\): field 'template': Jinja2"):
        validate_app(app)


def test_invalid_yaml_is_a_dsl_error_naming_the_file(tmp_path: Path) -> None:
    file = tmp_path / "broken.yml"
    file.write_text("app: [unclosed\n", encoding="utf-8")
    with pytest.raises(DSLError, match=r"^broken\.yml: not valid YAML"):
        load_app(file)
