"""if-else: the first passing case selects its handle, none → ``'false'`` (SPEC §7.5).

Legacy single-case nodes are normalised to one ``'true'`` case when the DSL is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.conditions import OPERATORS, Condition, ConditionError, evaluate
from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register

if TYPE_CHECKING:
    from workflow_core.context import RunContext


class Case(BaseModel):
    model_config = ConfigDict(extra="ignore")

    case_id: str
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[Condition] = Field(default_factory=list)


class IfElseData(NodeData):
    cases: list[Case] = Field(default_factory=list)


@register("if-else")
class IfElseNode(Node[IfElseData]):
    data_model = IfElseData

    def validate(self) -> None:
        for ci, case in enumerate(self.config.cases):
            for i, condition in enumerate(case.conditions):
                if condition.comparison_operator not in OPERATORS:
                    raise self.dsl_error(
                        f"cases[{ci}].conditions[{i}].comparison_operator",
                        f"unknown operator {condition.comparison_operator!r}",
                    )

    def run(self, ctx: RunContext) -> NodeOutcome:
        result = False
        for case in self.config.cases:
            try:
                result = evaluate(case.conditions, case.logical_operator, ctx)
            except ConditionError as exc:
                raise self.node_error(f"case {case.case_id}: {exc}") from exc
            if result:
                return NodeOutcome(
                    outputs={"result": True, "selected_case_id": case.case_id},
                    handle=case.case_id,
                )
        return NodeOutcome(outputs={"result": result, "selected_case_id": "false"}, handle="false")
