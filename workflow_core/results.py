"""What a run and each node execution produced (returned by the runner, read by the probe)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from workflow_core.context import LLMCall
from workflow_core.providers.base import Usage

NodeStatus = Literal["succeeded", "failed", "exception"]
RunStatus = Literal["succeeded", "partial-succeeded", "failed"]


@dataclass(frozen=True)
class NodeResult:
    """One node execution. ``exception`` = it failed but its error strategy handled it."""

    node_id: str
    node_type: str
    title: str
    status: NodeStatus
    outputs: dict[str, Any]
    handle: str = "source"
    inputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_strategy: str | None = None
    attempts: int = 1
    started_at: float = 0.0
    finished_at: float = 0.0
    llm_calls: tuple[LLMCall, ...] = ()
    #: Container id when the node ran inside an iteration / loop round, else ``None``.
    scope: str | None = None
    #: Round index inside that container.
    round_index: int | None = None

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.started_at

    @property
    def usage(self) -> Usage:
        return sum_usage(self.llm_calls)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: RunStatus
    outputs: dict[str, Any]
    error: str | None = None
    #: Advanced-chat reply: the answer nodes' emissions concatenated (SPEC §5.5).
    answer: str = ""
    conversation_id: str | None = None
    node_results: tuple[NodeResult, ...] = ()
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.status != "failed"

    @property
    def usage(self) -> Usage:
        return sum_usage(c for r in self.node_results for c in r.llm_calls)

    def node_order(self) -> list[str]:
        return [r.node_id for r in self.node_results]


def sum_usage(calls: Any) -> Usage:
    total_in = total_out = cached = 0
    for call in calls:
        total_in += call.usage.input_tokens
        total_out += call.usage.output_tokens
        cached += call.usage.cached_input_tokens
    return Usage(total_in, total_out, cached)
