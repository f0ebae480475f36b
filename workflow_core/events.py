"""The listener seam for observers that are not the probe (run stores, progress displays).

A :class:`RunListener` gets frozen events at run start, after every node execution and at run
end. Listeners run synchronously on the thread that produced the event (node events may come
from pool threads); an exception in a listener is logged and never breaks the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from workflow_core.context import LLMCall
from workflow_core.providers.base import Usage

if TYPE_CHECKING:
    from workflow_core.results import NodeResult, RunResult


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    app_id: str
    app_name: str
    mode: str
    inputs: dict[str, Any]
    query: str | None
    conversation_id: str | None
    started_at: float


@dataclass(frozen=True)
class NodeFinished:
    run_id: str
    node_id: str
    node_type: str
    title: str
    status: str  # succeeded | failed | exception (failed, handled by its error strategy)
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None
    started_at: float
    finished_at: float
    attempts: int
    usage: Usage
    llm_calls: tuple[LLMCall, ...] = field(default_factory=tuple)
    scope: str | None = None
    round_index: int | None = None

    @classmethod
    def from_result(cls, run_id: str, result: NodeResult) -> NodeFinished:
        return cls(
            run_id=run_id,
            node_id=result.node_id,
            node_type=result.node_type,
            title=result.title,
            status=result.status,
            inputs=result.inputs,
            outputs=result.outputs,
            error=result.error,
            started_at=result.started_at,
            finished_at=result.finished_at,
            attempts=result.attempts,
            usage=result.usage,
            llm_calls=result.llm_calls,
            scope=result.scope,
            round_index=result.round_index,
        )


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    status: str
    outputs: dict[str, Any]
    error: str | None
    started_at: float
    finished_at: float
    usage: Usage
    conversation_id: str | None = None

    @classmethod
    def from_result(cls, result: RunResult) -> RunFinished:
        return cls(
            run_id=result.run_id,
            status=result.status,
            outputs=result.outputs,
            error=result.error,
            started_at=result.started_at,
            finished_at=result.finished_at,
            usage=result.usage,
            conversation_id=result.conversation_id,
        )


class RunListener(Protocol):
    def on_run_start(self, event: RunStarted) -> None: ...

    def on_node_finish(self, event: NodeFinished) -> None: ...

    def on_run_finish(self, event: RunFinished) -> None: ...
