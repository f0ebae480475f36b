"""Pro-code form: DSL → Python objects → DSL keeps semantics on every corpus file; a workflow
built in Python exports DSL that the engine runs; generated Python rebuilds the same DSL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from ext_support import CORPUS

from workflow_core.builder import Workflow, to_python
from workflow_core.context import Services
from workflow_core.dsl import load_app, parse_app
from workflow_core.errors import DSLError
from workflow_core.runner import WorkflowRunner
from workflow_core.validation import validate_app

CORPUS_FILES = sorted(CORPUS.glob("*.yml"))


def test_the_whole_corpus_is_covered() -> None:
    assert len(CORPUS_FILES) == 13


def _through_yaml(document: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(yaml.safe_dump(document, allow_unicode=True))
    return loaded


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_dsl_round_trip_keeps_semantics(path: Path) -> None:
    original = yaml.safe_load(path.read_text(encoding="utf-8"))
    exported = _through_yaml(Workflow.load(path).to_dsl())
    # The engine's normalised model (nodes, data, edges, handles, variables, version, mode)
    # is identical, and the exported file still validates.
    assert parse_app(exported, source=path.name) == parse_app(original, source=path.name)
    validate_app(parse_app(exported, source=path.name))
    # Nothing the builder does not interpret is lost either (canvas, features, dependencies).
    original = _through_yaml(original)
    assert exported["app"] == original["app"]
    assert exported.get("dependencies") == original.get("dependencies")
    assert exported["workflow"].get("features") == original["workflow"].get("features")
    graph_out, graph_in = exported["workflow"]["graph"], original["workflow"]["graph"]
    assert graph_out["nodes"] == graph_in["nodes"]
    assert graph_out.get("viewport") == graph_in.get("viewport")
    assert [dict(e, sourceHandle=e.get("sourceHandle") or "source") for e in graph_in["edges"]] == [
        {k: e[k] for k in e if k in original_keys or k == "sourceHandle"}
        for e, original_keys in zip(
            graph_out["edges"], [set(e) for e in graph_in["edges"]], strict=True
        )
    ]


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_generated_python_rebuilds_the_same_workflow(path: Path) -> None:
    source = to_python(Workflow.load(path))
    namespace: dict[str, Any] = {}
    exec(compile(source, f"{path.stem}.py", "exec"), namespace)
    rebuilt: Workflow = namespace["wf"]
    original = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert parse_app(_through_yaml(rebuilt.to_dsl()), source=path.name) == parse_app(
        original, source=path.name
    )


def build_greeter() -> Workflow:
    wf = Workflow("greeter")
    start = wf.start(variables=[{"variable": "name", "type": "text-input", "required": True}])

    @wf.code(outputs={"greeting": "string", "length": "number"}, inputs={"name": start["name"]})
    def greet(name: str) -> dict[str, Any]:
        return {"greeting": f"Hello {name}", "length": len(name)}

    shout = wf.template("{{ text | upper }}!", inputs={"text": greet["greeting"]})
    check = wf.add(
        "if-else",
        title="Long name?",
        cases=[
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [
                    {
                        "variable_selector": greet["length"],
                        "comparison_operator": ">",
                        "value": "3",
                    }
                ],
            }
        ],
    )
    long_end = wf.end(outputs={"text": shout["output"]}, title="Long")
    short_end = wf.end(outputs={"text": greet["greeting"]}, title="Short")
    start >> greet >> shout >> check
    check.branch("true") >> long_end
    check.branch("false") >> short_end
    return wf


def test_workflow_built_in_python_runs_and_round_trips(
    tmp_path: Path, make_services: Callable[..., Services]
) -> None:
    wf = build_greeter()
    path = wf.save(tmp_path / "greeter.yml")
    app = load_app(path)
    runner = WorkflowRunner(app, services=make_services())
    assert runner.run({"name": "Grace"}).outputs == {"text": "HELLO GRACE!"}
    assert runner.run({"name": "Al"}).outputs == {"text": "Hello Al"}
    # DSL → Python objects → DSL: identical.
    assert Workflow.load(path).to_dsl() == wf.to_dsl()
    assert wf.to_app() == parse_app(wf.to_dsl(), source="greeter.yml")


def test_containers_get_their_start_child(make_services: Callable[..., Services]) -> None:
    wf = Workflow("doubler")
    start = wf.start(variables=[{"variable": "n", "type": "number", "required": True}])

    @wf.code(outputs={"items": "array[number]"}, inputs={"n": start["n"]})
    def numbers(n: int) -> dict[str, Any]:
        return {"items": list(range(int(n)))}

    loop = wf.add(
        "iteration",
        title="Each",
        iterator_selector=numbers["items"],
        output_selector=["double", "output"],
        output_type="array[string]",
    )
    double = wf.template("{{ x * 2 }}", inputs={"x": [loop.id, "item"]}, id="double", parent=loop)
    wf.container_start(loop) >> double
    end = wf.end(outputs={"doubled": loop["output"]})
    start >> numbers >> loop >> end
    result = WorkflowRunner(wf.to_app(), services=make_services()).run({"n": 3})
    assert result.outputs == {"doubled": ["0", "2", "4"]}


def test_builder_errors_name_the_problem() -> None:
    wf = Workflow("bad")
    a = wf.start()
    with pytest.raises(DSLError, match="duplicate node id"):
        wf.add("end", id=a.id)
    with pytest.raises(DSLError, match=r"parameters \['y'\] unbound"):

        @wf.code(outputs={"r": "string"}, inputs={"x": a["x"]})
        def f(x: str, y: str) -> dict[str, Any]:
            return {"r": x + y}

    with pytest.raises(DSLError, match="not a Dify app export"):
        Workflow.from_dsl({"app": {}})
