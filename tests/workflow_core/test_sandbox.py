"""Code nodes run isolated: timeout, memory limit, empty environment, no network, typed outputs."""

from __future__ import annotations

import os
import time

import pytest
from wfc_support import code_node, edge, make_app, node, runner_for

from workflow_core.errors import SandboxError
from workflow_core.results import RunResult
from workflow_core.sandbox import CodeSandbox


def _run_code(code: str, outputs: dict[str, str], **settings: object) -> RunResult:
    app = make_app(
        [
            node("s", "start"),
            code_node("c", code, outputs),
            node(
                "e", "end", outputs=[{"variable": k, "value_selector": ["c", k]} for k in outputs]
            ),
        ],
        [edge("s", "c"), edge("c", "e")],
    )
    return runner_for(app, **settings).run({})  # type: ignore[arg-type]


def test_infinite_loop_is_killed_after_the_timeout() -> None:
    started = time.monotonic()
    result = _run_code(
        "def main() -> dict:\n    while True:\n        pass\n",
        {"x": "string"},
        code_timeout_seconds=1.0,
    )
    assert time.monotonic() - started < 10
    assert result.status == "failed"
    assert result.error == "node c (code): code timed out after 1 s and was killed"


def test_ten_gigabyte_allocation_hits_the_memory_limit() -> None:
    result = _run_code(
        "def main() -> dict:\n    blob = bytearray(10 * 1024 ** 3)\n    return {'n': len(blob)}\n",
        {"n": "number"},
        code_memory_mb=256,
    )
    assert result.status == "failed"
    assert result.error == "node c (code): code exceeded the memory limit of 256 MB"


def test_environment_is_empty_so_secrets_do_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-super-secret")
    monkeypatch.setenv("FLOWSCOPE_TEST_SECRET", "hunter2")
    result = _run_code(
        "import os\n\ndef main() -> dict:\n    return {'env': dict(os.environ)}\n",
        {"env": "object"},
    )
    assert result.status == "succeeded", result.error
    env = result.outputs["env"]
    assert "OPENAI_API_KEY" not in env and "FLOWSCOPE_TEST_SECRET" not in env
    assert "hunter2" not in str(env) and "sk-super-secret" not in str(env)
    assert os.environ["FLOWSCOPE_TEST_SECRET"] == "hunter2", "the host environment is untouched"


def test_opening_a_socket_is_refused() -> None:
    code = (
        "import socket\n\ndef main() -> dict:\n"
        "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "    s.connect(('127.0.0.1', 9))\n    return {'x': 'connected'}\n"
    )
    result = _run_code(code, {"x": "string"})
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("node c (code): network access is not allowed in code nodes")


def test_spawning_a_process_is_refused() -> None:
    code = "import subprocess\n\ndef main() -> dict:\n    subprocess.run(['true'])\n    return {}\n"
    result = _run_code(code, {})
    assert result.status == "failed"
    assert result.error is not None and "process control is not allowed" in result.error


def test_user_exception_names_the_node_and_line() -> None:
    result = _run_code("def main() -> dict:\n    x = 1\n    return {'y': x / 0}\n", {"y": "number"})
    assert result.error == "node c (code): code raised ZeroDivisionError (line 3): division by zero"


@pytest.mark.parametrize(
    ("returned", "outputs", "message"),
    [
        ("{'a': 1}", {"a": "string"}, "output 'a' must be string, got int"),
        ("{'a': 'x', 'b': 2}", {"a": "string"}, "main() returned undeclared output 'b'"),
        ("{}", {"a": "string"}, "main() did not return declared output 'a'"),
        ("{'a': ['x', 3]}", {"a": "array[string]"}, "output 'a[1]' must be string, got int"),
        ("{'a': list(range(31))}", {"a": "array[number]"}, None),
        (
            "{'a': [{}] * 31}",
            {"a": "array[object]"},
            "output 'a' has 31 items; array[object] allows 30",
        ),
        ("'not a dict'", {"a": "string"}, "main() must return a dict with string keys, got str"),
    ],
)
def test_declared_output_types_are_enforced(
    returned: str, outputs: dict[str, str], message: str | None
) -> None:
    result = _run_code(f"def main() -> dict:\n    return {returned}\n", outputs)
    if message is None:
        assert result.status == "succeeded", result.error
    else:
        assert result.status == "failed"
        assert result.error is not None
        assert result.error.startswith(f"node c (code): {message}")


def test_null_is_accepted_and_booleans_become_numbers() -> None:
    result = _run_code(
        "def main() -> dict:\n    return {'a': None, 'n': True}\n", {"a": "string", "n": "number"}
    )
    assert result.outputs == {"a": None, "n": 1}


def test_prints_do_not_corrupt_the_result() -> None:
    sandbox = CodeSandbox()
    result = sandbox.execute(
        "def main(x: int) -> dict:\n    print('{\"ok\": false}')\n    return {'y': x + 1}\n",
        {"x": 41},
        language="python3",
    )
    assert result == {"y": 42}


def test_javascript_is_reported_as_unsupported() -> None:
    with pytest.raises(SandboxError, match="only python3 code nodes run here"):
        CodeSandbox().execute("function main() {}", {}, language="javascript")
