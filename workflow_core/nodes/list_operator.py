"""list-operator: filter → extract → order → limit over an array (SPEC §7.10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.conditions import ConditionError, compare
from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.variables import Selector, is_missing

if TYPE_CHECKING:
    from workflow_core.context import RunContext


class FilterCondition(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = ""
    comparison_operator: str
    value: Any = None


class FilterBy(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enabled: bool = False
    conditions: list[FilterCondition] = Field(default_factory=list)


class OrderBy(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enabled: bool = False
    key: str = ""
    value: Literal["asc", "desc"] = "asc"


class Limit(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enabled: bool = False
    size: int = Field(default=-1)


class ExtractBy(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enabled: bool = False
    serial: str = "1"


class ListOperatorData(NodeData):
    variable: list[str] = Field(min_length=2)
    filter_by: FilterBy = Field(default_factory=FilterBy)
    order_by: OrderBy = Field(default_factory=OrderBy)
    limit: Limit = Field(default_factory=Limit)
    extract_by: ExtractBy = Field(default_factory=ExtractBy)


@register("list-operator")
class ListOperatorNode(Node[ListOperatorData]):
    data_model = ListOperatorData

    def selectors(self) -> Iterator[tuple[str, Selector]]:
        yield "variable", tuple(self.config.variable)

    def run(self, ctx: RunContext) -> NodeOutcome:
        value = ctx.pool.lookup(self.config.variable)
        if is_missing(value):
            raise self.node_error(f"variable {'.'.join(self.config.variable)} not found")
        items: list[Any] = [] if value is None else value
        if not isinstance(items, list):
            raise self.node_error(f"variable must be an array, got {type(items).__name__}")
        try:
            items = self._filter(items, ctx)
        except ConditionError as exc:
            raise self.node_error(f"filter: {exc}") from exc
        if self.config.extract_by.enabled:
            serial = int(ctx.render(self.config.extract_by.serial) or "1")
            if not 1 <= serial <= len(items):
                raise self.node_error(f"extract_by.serial {serial} is out of range 1..{len(items)}")
            items = [items[serial - 1]]
        if self.config.order_by.enabled:
            key = self.config.order_by.key

            def sort_key(item: Any) -> Any:
                return item.get(key) if key and isinstance(item, dict) else item

            items = sorted(items, key=sort_key, reverse=self.config.order_by.value == "desc")
        if self.config.limit.enabled and self.config.limit.size >= 0:
            items = items[: self.config.limit.size]
        return NodeOutcome(
            outputs={
                "result": items,
                "first_record": items[0] if items else None,
                "last_record": items[-1] if items else None,
            }
        )

    def _filter(self, items: list[Any], ctx: RunContext) -> list[Any]:
        if not self.config.filter_by.enabled:
            return items
        for condition in self.config.filter_by.conditions:
            expected = condition.value
            if isinstance(expected, str):
                expected = ctx.render(expected)
            items = [
                item
                for item in items
                if compare(
                    condition.comparison_operator,
                    item.get(condition.key) if condition.key and isinstance(item, dict) else item,
                    expected,
                )
            ]
        return items
