"""end: collects the workflow result from selectors (SPEC §7.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register

if TYPE_CHECKING:
    from workflow_core.context import RunContext


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    variable: str
    value_selector: list[str] = Field(default_factory=list)


class EndData(NodeData):
    outputs: list[OutputSpec] = Field(default_factory=list)


@register("end")
class EndNode(Node[EndData]):
    data_model = EndData

    def run(self, ctx: RunContext) -> NodeOutcome:
        outputs = {o.variable: ctx.get(o.value_selector) for o in self.config.outputs}
        return NodeOutcome(outputs=outputs, inputs=dict(outputs))
