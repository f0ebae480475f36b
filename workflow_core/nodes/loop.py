"""loop (+ loop-start, loop-end): repeats the child graph until a break (SPEC §7.18).

Loop variables live at ``[loop_id, label]`` in the shared pool. Break conditions are checked
before the first round and after each round; reaching a ``loop-end`` node breaks too.
``LoopNode.run_round`` is the probe's ``loop[i]`` span target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.conditions import Condition, ConditionError, evaluate
from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.variables import Selector

if TYPE_CHECKING:
    from collections.abc import Iterator

    from workflow_core.context import RunContext

MAX_LOOP_COUNT = 1000
BREAK_FLAG = "__loop_break__"


class LoopVariable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: str
    var_type: str = "string"
    value_type: Literal["constant", "variable"] = "constant"
    value: Any = None


class LoopData(NodeData):
    start_node_id: str
    loop_count: int = Field(default=10, ge=1, le=MAX_LOOP_COUNT)
    break_conditions: list[Condition] = Field(default_factory=list)
    logical_operator: Literal["and", "or"] = "and"
    loop_variables: list[LoopVariable] = Field(default_factory=list)


class MarkerData(NodeData):
    pass


@register("loop-start")
class LoopStartNode(Node[MarkerData]):
    data_model = MarkerData

    def run(self, ctx: RunContext) -> NodeOutcome:
        return NodeOutcome()


@register("loop-end")
class LoopEndNode(Node[MarkerData]):
    data_model = MarkerData

    def run(self, ctx: RunContext) -> NodeOutcome:
        if self.spec.parent_id:
            ctx.set((self.spec.parent_id, BREAK_FLAG), True)
        return NodeOutcome()


@register("loop")
class LoopNode(Node[LoopData]):
    data_model = LoopData
    is_container = True

    def selectors(self) -> Iterator[tuple[str, Selector]]:
        yield from super().selectors()
        for i, var in enumerate(self.config.loop_variables):
            if var.value_type == "variable" and isinstance(var.value, list) and len(var.value) >= 2:
                yield f"loop_variables[{i}].value", tuple(str(p) for p in var.value)

    def run(self, ctx: RunContext) -> NodeOutcome:
        for var in self.config.loop_variables:
            value = var.value
            if var.value_type == "variable":
                value = ctx.get(var.value) if isinstance(var.value, list) else None
            ctx.set((self.id, var.label), value)
        rounds = 0
        while rounds < self.config.loop_count and not self._should_break(ctx):
            ctx.set((self.id, BREAK_FLAG), False)
            self.run_round(rounds, ctx)
            rounds += 1
            if ctx.get((self.id, BREAK_FLAG)):
                break
        outputs = {v.label: ctx.get((self.id, v.label)) for v in self.config.loop_variables}
        outputs["loop_round"] = rounds
        return NodeOutcome(outputs=outputs, inputs={"loop_count": self.config.loop_count})

    def _should_break(self, ctx: RunContext) -> bool:
        if not self.config.break_conditions:
            return False
        try:
            return evaluate(self.config.break_conditions, self.config.logical_operator, ctx)
        except ConditionError as exc:
            raise self.node_error(f"break condition: {exc}") from exc

    def run_round(self, index: int, ctx: RunContext) -> Any:
        """Run the child graph once on the shared pool; return the loop variables after it."""
        ctx.set((self.id, "index"), index)
        ctx.run_scope(self.id, ctx.pool, index)
        return {v.label: ctx.get((self.id, v.label)) for v in self.config.loop_variables}
