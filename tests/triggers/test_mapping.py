"""Input mapping: JSON pointers, dotted paths, query and header values with type checks."""

from __future__ import annotations

import pytest

from workflow_core.triggers.config import InputMapping
from workflow_core.triggers.errors import PayloadError
from workflow_core.triggers.mapping import map_inputs

BODY = {"a/b": {"~x": 1}, "items": [{"id": "i0"}, {"id": "i1"}], "flag": True, "n": 2.5}


def _m(source: str, kind: str = "string", **extra: object) -> InputMapping:
    return InputMapping.model_validate({"from": source, "type": kind, **extra})


def test_pointer_escapes_array_indexes_and_dotted_paths() -> None:
    inputs = map_inputs(
        {
            "x": _m("body:/a~1b/~0x", "integer"),
            "second": _m("body:items.1.id"),
            "first": _m("body:/items/0/id"),
            "flag": _m("body:flag", "boolean"),
            "n": _m("body:/n", "number"),
            "whole": _m("body:/items", "array"),
        },
        body=BODY,
        query={},
        headers={},
    )
    assert inputs == {
        "x": 1,
        "second": "i1",
        "first": "i0",
        "flag": True,
        "n": 2.5,
        "whole": BODY["items"],
    }


def test_query_and_header_text_is_converted_to_the_declared_type() -> None:
    inputs = map_inputs(
        {
            "limit": _m("query:limit", "integer"),
            "dry": _m("header:X-Dry-Run", "boolean"),
            "ratio": _m("query:ratio", "number"),
            "missing": _m("query:nope", "integer", required=False, default=7),
        },
        body=None,
        query={"limit": "10", "ratio": "0.5"},
        headers={"X-Dry-Run": "yes"},
    )
    assert inputs == {"limit": 10, "dry": True, "ratio": 0.5, "missing": 7}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (_m("query:limit", "integer"), "query:limit: expected integer, got 'ten'"),
        (_m("header:X-Dry-Run", "boolean"), "header:X-Dry-Run: expected boolean"),
        (_m("body:/items/5/id"), "body:/items/5/id: required for input 'v' but missing"),
        (_m("body:/flag", "integer"), "body:/flag: expected integer, got bool true"),
    ],
)
def test_errors_name_the_failing_path(mapping: InputMapping, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        map_inputs(
            {"v": mapping},
            body=BODY,
            query={"limit": "ten"},
            headers={"X-Dry-Run": "maybe"},
        )
    assert str(caught.value).startswith(message)
    assert caught.value.path == mapping.source


def test_unknown_source_prefix_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="must start with body:, query: or header:"):
        _m("cookie:session")
