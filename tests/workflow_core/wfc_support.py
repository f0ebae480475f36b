"""Helpers for workflow_core tests: the corpus path and a synthetic-graph builder."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from workflow_core.context import Services
from workflow_core.conversation import MemoryConversationStore
from workflow_core.dsl import DifyApp, parse_app
from workflow_core.errors import ProviderError
from workflow_core.providers.base import LLMRequest, LLMResponse
from workflow_core.providers.simulated import SimulatedLLM
from workflow_core.runner import WorkflowRunner
from workflow_core.sandbox import CodeSandbox
from workflow_core.settings import RunSettings

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / "../shared/dify-dsl").resolve()


def node(node_id: str, node_type: str, parent: str | None = None, **data: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": node_id,
        "type": "custom",
        "data": {"type": node_type, "title": node_id, **data},
    }
    if parent:
        raw["parentId"] = parent
    return raw


def edge(source: str, target: str, handle: str = "source") -> dict[str, Any]:
    return {
        "id": f"{source}-{handle}-{target}",
        "source": source,
        "target": target,
        "sourceHandle": handle,
    }


def make_app(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    *,
    mode: str = "workflow",
    version: str = "0.1.5",
    conversation_variables: list[dict[str, Any]] | None = None,
    environment_variables: list[dict[str, Any]] | None = None,
    source: str = "synthetic.yml",
) -> DifyApp:
    raw = {
        "app": {"name": "synthetic", "mode": mode},
        "kind": "app",
        "version": version,
        "workflow": {
            "conversation_variables": conversation_variables or [],
            "environment_variables": environment_variables or [],
            "graph": {"nodes": nodes, "edges": edges},
        },
    }
    return parse_app(raw, source=source)


def runner_for(
    app: DifyApp,
    *,
    script: dict[str, Any] | None = None,
    latency_ms: float = 0.0,
    llm: Any = None,
    **settings: Any,
) -> WorkflowRunner:
    run_settings = RunSettings(**settings)
    services = Services(
        llm=llm or SimulatedLLM(latency_ms=latency_ms, script=script),
        sandbox=CodeSandbox(
            timeout_seconds=run_settings.code_timeout_seconds,
            memory_mb=run_settings.code_memory_mb,
            patch_sleep=True,
        ),
    )
    return WorkflowRunner(
        app, services=services, settings=run_settings, conversation_store=MemoryConversationStore()
    )


class CountingLLM(SimulatedLLM):
    """Simulated LLM that records how many calls overlapped and what context they saw."""

    def __init__(self, latency_ms: float = 0.0, probe_var: Any = None) -> None:
        super().__init__(latency_ms=latency_ms)
        self._active = 0
        self.max_active = 0
        self.seen: list[Any] = []
        self._count_lock = threading.Lock()
        self.probe_var = probe_var

    def _invoke(self, request: LLMRequest) -> LLMResponse:
        with self._count_lock:
            self._active += 1
            self.max_active = max(self.max_active, self._active)
            if self.probe_var is not None:
                self.seen.append(self.probe_var.get(None))
        try:
            return super()._invoke(request)
        finally:
            with self._count_lock:
                self._active -= 1


class FlakyLLM(SimulatedLLM):
    """Fails the first ``failures`` calls with a provider error, then answers."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def _invoke(self, request: LLMRequest) -> LLMResponse:
        self.calls += 1
        if self.calls <= self.failures:
            raise ProviderError(f"upstream 503 (call {self.calls})")
        return super()._invoke(request)


def llm_node(node_id: str, prompt: str, parent: str | None = None, **data: Any) -> dict[str, Any]:
    return node(
        node_id,
        "llm",
        parent,
        model={"provider": "openai", "name": "gpt-4o-mini", "mode": "chat"},
        prompt_template=[{"role": "user", "text": prompt}],
        **data,
    )


def code_node(
    node_id: str,
    code: str,
    outputs: dict[str, str],
    variables: dict[str, list[str]] | None = None,
    parent: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    return node(
        node_id,
        "code",
        parent,
        code_language="python3",
        code=code,
        outputs={k: {"type": v, "children": None} for k, v in outputs.items()},
        variables=[{"variable": k, "value_selector": v} for k, v in (variables or {}).items()],
        **data,
    )
