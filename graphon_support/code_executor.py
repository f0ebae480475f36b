"""graphon's ``CodeExecutorProtocol`` backed by workflow_core's code sandbox.

graphon's DSL importer sends code nodes to a dify-sandbox HTTP service. Offline, both engines run
code through the same sandbox (``workflow_core.sandbox.CodeSandbox``: one isolated ``python -I``
subprocess per call), so a code node behaves — and costs — the same in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphon.nodes.code.entities import CodeLanguage

from workflow_core.errors import SandboxError
from workflow_core.sandbox import CodeSandbox


class SandboxCodeExecutor:
    """Runs a graphon code node's ``main(**inputs)`` in the core's sandbox."""

    def __init__(self, sandbox: CodeSandbox | None = None) -> None:
        self._sandbox = sandbox or CodeSandbox()

    def execute(
        self, *, language: CodeLanguage, code: str, inputs: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        return self._sandbox.execute(code, dict(inputs), language=str(language))

    def is_execution_error(self, error: Exception) -> bool:
        return isinstance(error, SandboxError)
