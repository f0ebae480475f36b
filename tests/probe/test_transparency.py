"""The probe is invisible to the host: same metadata, same results, same exceptions."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import subprocess
import sys
import traceback
from pathlib import Path
from types import FunctionType
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from probe_support import OFFLINE, ScriptedFailureLLM, parallel_iteration_app, runner
from wrapt import FunctionWrapper

import probe
from probe.targets import WORKFLOW_CORE
from workflow_core.dsl import load_app
from workflow_core.errors import InputError

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "dify-dsl"  # ../shared
REPO = Path(__file__).resolve().parents[2]


def _owner_and_name(dotted: str) -> tuple[type, str]:
    module_name, _, qualname = dotted.partition(":")
    owner: Any = importlib.import_module(module_name)
    *path, method = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, method


def _present_targets() -> list[tuple[type, str]]:
    """Targets whose module exists in this checkout (the trigger delivery may not, yet)."""
    found = []
    for target in WORKFLOW_CORE.targets:
        try:
            found.append(_owner_and_name(target.target))
        except ModuleNotFoundError as exc:
            if exc.name != target.module:
                raise
    assert len(found) >= 10  # run, execute_node, 6 service calls, 2 kinds of rounds
    return found


@pytest.mark.parametrize(
    ("wrapper", "kind"), [("function", FunctionType), ("wrapt", FunctionWrapper)]
)
def test_wrapped_methods_keep_name_qualname_doc_and_signature(wrapper: str, kind: type) -> None:
    probe.uninstrument()
    targets = _present_targets()
    originals = {(o, m): o.__dict__[m] for o, m in targets}
    expected = {
        key: (f.__name__, f.__qualname__, f.__doc__, inspect.signature(f))
        for key, f in originals.items()
    }
    settings = dataclasses.replace(OFFLINE, wrapper=wrapper)
    assert probe.instrument(tracer_provider=TracerProvider(), settings=settings)
    try:
        assert len(probe.applied_targets()) == len(targets)
        for (owner, method), (name, qualname, doc, signature) in expected.items():
            wrapped = getattr(owner, method)
            assert isinstance(owner.__dict__[method], kind)
            assert wrapped is not originals[(owner, method)]
            assert wrapped.__wrapped__ is originals[(owner, method)]
            assert wrapped.__name__ == name
            assert wrapped.__qualname__ == qualname
            assert wrapped.__doc__ == doc
            assert inspect.signature(wrapped) == signature
    finally:
        assert probe.uninstrument()
    for owner, method in targets:
        restored = owner.__dict__[method]
        assert restored is originals[(owner, method)]
        assert not hasattr(restored, "__wrapped__")


def test_instrument_and_uninstrument_are_idempotent() -> None:
    probe.uninstrument()
    assert probe.instrument(tracer_provider=TracerProvider(), settings=OFFLINE)
    assert not probe.instrument(tracer_provider=TracerProvider(), settings=OFFLINE)
    owner, method = _owner_and_name("workflow_core.runner:WorkflowRunner.run")
    assert getattr(owner, method).__wrapped__ is not None
    assert not hasattr(getattr(owner, method).__wrapped__, "__wrapped__")  # wrapped once
    assert probe.uninstrument()
    assert not probe.uninstrument()
    assert not hasattr(owner.__dict__[method], "__wrapped__")


VOLATILE = {"sys.timestamp"}  # wall-clock values differ between any two runs


def _stable(value: Any, run_id: str) -> Any:
    """``value`` with this run's id and wall-clock fields replaced by placeholders."""
    if isinstance(value, dict):
        return {k: "<volatile>" if k in VOLATILE else _stable(v, run_id) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stable(v, run_id) for v in value]
    return "<run_id>" if value == run_id else value


def _comparable(result: Any) -> Any:
    nodes = [
        (r.node_id, r.status, r.outputs, r.inputs, r.error, r.attempts) for r in result.node_results
    ]
    return _stable(
        (result.status, result.outputs, result.error, result.answer, nodes), result.run_id
    )


def _run_corpus(name: str, inputs: dict[str, Any]) -> Any:
    app = load_app(CORPUS / name)
    return _comparable(runner(app, workers=1).run(inputs))


CASES = [
    ("SEO_Slug_Generator.yml", {"title": "How to brew coffee at home"}),
    (
        "translation_workflow.yml",
        {
            "source_text": "Guten Morgen",
            "source_lang": "German",
            "target_lang": "English",
            "country": "US",
        },
    ),
]


@pytest.mark.parametrize(("name", "inputs"), CASES)
def test_corpus_workflow_runs_identically_with_and_without_probe(
    name: str, inputs: dict[str, Any]
) -> None:
    probe.uninstrument()
    without = _run_corpus(name, inputs)
    assert probe.instrument(tracer_provider=TracerProvider(), settings=OFFLINE)
    try:
        with_probe = _run_corpus(name, inputs)
    finally:
        probe.uninstrument()
    assert with_probe == without


def test_failing_run_fails_identically_with_and_without_probe() -> None:
    def run() -> Any:
        llm = ScriptedFailureLLM({"ask": 5})  # more failures than retries: the run fails
        return _comparable(runner(parallel_iteration_app(retries=1), llm).run({"topic": "t"}))

    probe.uninstrument()
    without = run()
    assert probe.instrument(tracer_provider=TracerProvider(), settings=OFFLINE)
    try:
        with_probe = run()
    finally:
        probe.uninstrument()
    assert without[0] == "failed"
    assert with_probe == without


def _raise_input_error() -> BaseException:
    app = load_app(CORPUS / "SEO_Slug_Generator.yml")
    with pytest.raises(InputError) as info:
        runner(app, workers=1).run({"not_declared": "x"})
    return info.value


def test_host_exception_propagates_unchanged_with_its_traceback() -> None:
    probe.uninstrument()
    plain = _raise_input_error()
    assert probe.instrument(tracer_provider=TracerProvider(), settings=OFFLINE)
    try:
        instrumented = _raise_input_error()
    finally:
        probe.uninstrument()
    assert type(instrumented) is type(plain)
    assert str(instrumented) == str(plain)
    plain_frames = traceback.extract_tb(plain.__traceback__)
    probe_frames = traceback.extract_tb(instrumented.__traceback__)
    # The innermost frames — where the host raised — are the same.
    assert [(f.filename, f.name, f.lineno) for f in probe_frames[-2:]] == [
        (f.filename, f.name, f.lineno) for f in plain_frames[-2:]
    ]


def _fresh_python(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    return completed.stdout.strip()


def test_import_probe_imports_no_workflow_core() -> None:
    out = _fresh_python(
        "import sys, probe, probe.targets, probe.instrumentation\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'workflow_core'))"
    )
    assert out == "[]"


def test_instrument_before_import_patches_lazily_on_import() -> None:
    out = _fresh_python(
        "import sys, probe\n"
        "from probe.settings import ProbeSettings\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "probe.instrument(tracer_provider=TracerProvider(),\n"
        "    settings=ProbeSettings(traces_exporter='none', metrics_exporter='none'))\n"
        "before = 'workflow_core' in sys.modules\n"
        "from workflow_core.runner import WorkflowRunner\n"
        "print(before, hasattr(WorkflowRunner.__dict__['run'], '__wrapped__'))"
    )
    assert out == "False True"


def test_workflow_core_imports_neither_probe_nor_opentelemetry() -> None:
    out = _fresh_python(
        "import sys, workflow_core.runner, workflow_core.cli, workflow_core.nodes\n"
        "workflow_core.nodes.load_node_types()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'probe', 'opentelemetry'}))"
    )
    assert out == "[]"


class _Host:
    def plain(self, a: int, b: int = 2) -> tuple[int, int]:
        """Adds nothing."""
        return a, b

    def star(self, *items: int, scale: int = 1) -> list[int]:
        return [i * scale for i in items]


def test_generated_method_keeps_defaults_keywords_and_argument_errors() -> None:
    from probe._wrappers import Runtime, make_method
    from probe.extractors import describe_tool, enter_call
    from probe.sampling.api import ALWAYS_ON
    from probe.spec import Target

    runtime = Runtime(TracerProvider().get_tracer("t"), ALWAYS_ON, None)
    host = _Host()
    for name, call in (
        ("plain", lambda f: (f(host, 1), f(host, 1, b=5), f(host, a=3))),
        ("star", lambda f: (f(host, 1, 2, scale=3), f(host))),
    ):
        original = _Host.__dict__[name]
        target = Target(f"tests:_Host.{name}", "tool", (), enter=enter_call, describe=describe_tool)
        method = make_method(target, runtime, original)
        assert call(method) == call(original)
        assert inspect.signature(method) == inspect.signature(original)
    method = make_method(target, runtime, _Host.__dict__["plain"])
    with pytest.raises(TypeError) as raised:
        method(host)  # a missing argument: the same error as the original's
    with pytest.raises(TypeError) as expected:
        _Host.__dict__["plain"](host)
    assert str(raised.value) == str(expected.value)
