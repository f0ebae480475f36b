"""iteration (+ iteration-start): runs the child graph once per list element (SPEC §7.17).

Each round works on a fork of the pool holding ``[iteration_id, item]`` and ``[iteration_id,
index]``; only the ``output_selector`` value and conversation-variable writes leave the round.
``IterationNode.run_round`` is the probe's ``iteration[i]`` span target.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from workflow_core.errors import NodeError
from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.variables import is_missing

if TYPE_CHECKING:
    from workflow_core.context import RunContext

_FAILED = object()


class IterationData(NodeData):
    iterator_selector: list[str] = Field(min_length=2)
    output_selector: list[str] = Field(default_factory=list)
    start_node_id: str
    is_parallel: bool = False
    parallel_nums: int = Field(default=10, ge=1, le=100)
    error_handle_mode: Literal["terminated", "continue-on-error", "remove-abnormal-output"] = (
        "terminated"
    )
    flatten_output: bool = True


class IterationStartData(NodeData):
    pass


@register("iteration-start")
class IterationStartNode(Node[IterationStartData]):
    data_model = IterationStartData

    def run(self, ctx: RunContext) -> NodeOutcome:
        return NodeOutcome()


@register("iteration")
class IterationNode(Node[IterationData]):
    data_model = IterationData
    is_container = True

    def run(self, ctx: RunContext) -> NodeOutcome:
        items = ctx.pool.lookup(self.config.iterator_selector)
        if is_missing(items):
            raise self.node_error(
                f"iterator variable {'.'.join(self.config.iterator_selector)} not found"
            )
        if items is None:
            items = []
        if not isinstance(items, list):
            raise self.node_error(f"iterator value must be a list, got {type(items).__name__}")
        if self.config.is_parallel and len(items) > 1:
            workers = min(self.config.parallel_nums, len(items))
            with ThreadPoolExecutor(
                workers, thread_name_prefix=f"flowscope-iter-{self.id}"
            ) as pool:
                futures = [
                    pool.submit(contextvars.copy_context().run, self._guarded_round, i, item, ctx)
                    for i, item in enumerate(items)
                ]
                results = [f.result() for f in futures]
        else:
            results = [self._guarded_round(i, item, ctx) for i, item in enumerate(items)]
        if self.config.error_handle_mode == "remove-abnormal-output":
            results = [r for r in results if r is not _FAILED]
        else:
            results = [None if r is _FAILED else r for r in results]
        output = results
        non_null = [r for r in results if r is not None]
        if self.config.flatten_output and non_null and all(isinstance(r, list) for r in non_null):
            output = [x for r in non_null for x in r]
        return NodeOutcome(outputs={"output": output}, inputs={"iterator_length": len(items)})

    def _guarded_round(self, index: int, item: Any, ctx: RunContext) -> Any:
        try:
            return self.run_round(index, item, ctx)
        except NodeError as exc:
            if self.config.error_handle_mode == "terminated":
                raise self.node_error(f"round {index} failed: {exc}") from exc
            return _FAILED

    def run_round(self, index: int, item: Any, ctx: RunContext) -> Any:
        """Run the child graph for element ``index``; return the round's output value."""
        pool = ctx.pool.fork()
        pool.set((self.id, "item"), item)
        pool.set((self.id, "index"), index)
        before = dict(pool.items("conversation"))
        ctx.run_scope(self.id, pool, index)
        for name, value in pool.items("conversation"):  # conversation writes flow back
            if name not in before or before[name] != value:
                ctx.pool.set(("conversation", name), value)
        if len(self.config.output_selector) < 2:
            return None
        return pool.get(self.config.output_selector)
