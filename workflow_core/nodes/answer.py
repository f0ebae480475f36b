"""answer: renders its template (markdown forms) into the chat reply (SPEC §7.2-§7.3).

The runner emits ``outputs["answer"]`` when it commits the node, in scheduler order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register

if TYPE_CHECKING:
    from workflow_core.context import RunContext


class AnswerData(NodeData):
    answer: str = ""


@register("answer")
class AnswerNode(Node[AnswerData]):
    data_model = AnswerData
    streams_answer = True

    def run(self, ctx: RunContext) -> NodeOutcome:
        text = ctx.render(self.config.answer, form="markdown")
        return NodeOutcome(outputs={"answer": text, "files": []})
