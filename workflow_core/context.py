"""What a node sees while it runs: the variable pool, rendering, services and the attempt number."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from workflow_core.conversation import Turn
from workflow_core.providers.base import LLMClient, LLMRequest, LLMResponse, Usage
from workflow_core.sandbox import CodeSandbox
from workflow_core.variables import Form, Selector, VariablePool, is_missing, render

if TYPE_CHECKING:
    from workflow_core.dsl import DifyApp


@dataclass
class Services:
    """Back-ends nodes call. The four last slots are filled by the knowledge, tool, HTTP and
    document modules (their types live there; ``Any`` keeps this module free of them)."""

    llm: LLMClient
    sandbox: CodeSandbox
    retriever: Any = None  # workflow_core.retrieval.base.Retriever
    tools: Any = None  # workflow_core.tools.base.ToolRunner
    http: Any = None  # workflow_core.http_client.HttpClient
    documents: Any = None  # workflow_core.documents extractor


@dataclass(frozen=True)
class LLMCall:
    """Token usage of one model call made while a node ran."""

    provider: str
    model: str
    usage: Usage
    duration_s: float


class ScopeExecutor(Protocol):
    """The runner, as container nodes see it: runs a container's child graph."""

    def run_scope(self, container_id: str, ctx: RunContext) -> None: ...


class AnswerSink:
    """Collects answer-node emissions in order (the chat reply, SPEC §7.3)."""

    def __init__(self) -> None:
        self._parts: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def emit(self, node_id: str, text: str) -> None:
        with self._lock:
            self._parts.append((node_id, text))

    @property
    def emissions(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._parts)

    @property
    def reply(self) -> str:
        return "".join(text for _, text in self.emissions)


@dataclass
class RunContext:
    """Per-node view of a run. The runner gives each node execution its own copy, so ``attempt``
    and ``llm_calls`` belong to that execution; ``pool`` and ``answers`` are shared by the run
    (an iteration round gets a forked pool)."""

    app: DifyApp
    run_id: str
    pool: VariablePool
    services: Services
    executor: ScopeExecutor
    answers: AnswerSink = field(default_factory=AnswerSink)
    history: tuple[Turn, ...] = ()
    #: Validated start-node inputs of this run.
    inputs: dict[str, Any] = field(default_factory=dict)
    node_id: str | None = None
    attempt: int = 1
    #: Round of the innermost iteration / loop this node runs in, else ``None``.
    round_index: int | None = None
    llm_calls: list[LLMCall] = field(default_factory=list)

    # -- variables ------------------------------------------------------------------------
    def get(self, selector: Sequence[str], default: Any = None) -> Any:
        return self.pool.get(selector, default)

    def has(self, selector: Sequence[str]) -> bool:
        return self.pool.has(selector)

    def require(self, selector: Sequence[str]) -> Any:
        """The value at ``selector``; :class:`KeyError` naming it when absent."""
        value = self.pool.lookup(selector)
        if is_missing(value):
            raise KeyError(".".join(selector))
        return value

    def set(self, selector: Sequence[str], value: Any) -> None:
        self.pool.set(selector, value)

    def render(
        self,
        template: str,
        *,
        form: Form = "text",
        strict: bool = False,
        on_missing: list[Selector] | None = None,
    ) -> str:
        return render(template, self.pool, form=form, strict=strict, on_missing=on_missing)

    # -- services -------------------------------------------------------------------------
    def invoke_llm(self, request: LLMRequest) -> LLMResponse:
        """Call the model through ``LLMClient.invoke`` and record its usage for listeners."""
        started = time.perf_counter()
        response = self.services.llm.invoke(request)
        self.llm_calls.append(
            LLMCall(
                provider=response.provider or self.services.llm.provider_name,
                model=response.model,
                usage=response.usage,
                duration_s=time.perf_counter() - started,
            )
        )
        return response

    def run_scope(self, container_id: str, pool: VariablePool, index: int | None = None) -> None:
        """Run the child graph of container ``container_id`` on ``pool`` (round ``index``)."""
        self.executor.run_scope(container_id, self.derive(pool=pool, round_index=index))

    def derive(self, **changes: Any) -> RunContext:
        """A copy for another node execution (fresh attempt counter and LLM call list)."""
        changes.setdefault("attempt", 1)
        changes.setdefault("llm_calls", [])
        return replace(self, **changes)
