"""variable-aggregator: the first selector whose node ran wins (SPEC §7.8); groups supported.
The legacy type name ``variable-assigner`` means this node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.variables import Selector, is_missing

if TYPE_CHECKING:
    from workflow_core.context import RunContext


class Group(BaseModel):
    model_config = ConfigDict(extra="ignore")

    group_name: str
    output_type: str = "string"
    variables: list[list[str]] = Field(default_factory=list)


class AdvancedSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    group_enabled: bool = False
    groups: list[Group] = Field(default_factory=list)


class AggregatorData(NodeData):
    output_type: str = "string"
    variables: list[list[str]] = Field(default_factory=list)
    advanced_settings: AdvancedSettings | None = None


def _first(ctx: RunContext, selectors: list[list[str]]) -> tuple[bool, Any]:
    for selector in selectors:
        value = ctx.pool.lookup(selector)
        if not is_missing(value):
            return True, value
    return False, None


@register("variable-aggregator")
class VariableAggregatorNode(Node[AggregatorData]):
    data_model = AggregatorData

    def selectors(self) -> Iterator[tuple[str, Selector]]:
        for i, selector in enumerate(self.config.variables):
            yield f"variables[{i}]", tuple(selector)
        settings = self.config.advanced_settings
        for g, group in enumerate(settings.groups if settings else []):
            for i, selector in enumerate(group.variables):
                yield f"advanced_settings.groups[{g}].variables[{i}]", tuple(selector)

    def run(self, ctx: RunContext) -> NodeOutcome:
        settings = self.config.advanced_settings
        outputs: dict[str, Any] = {}
        if settings is not None and settings.group_enabled:
            for group in settings.groups:
                found, value = _first(ctx, group.variables)
                if found:
                    outputs[group.group_name] = {"output": value}
        else:
            found, value = _first(ctx, self.config.variables)
            if found:
                outputs["output"] = value
        return NodeOutcome(outputs=outputs)


register("variable-assigner")(type("LegacyVariableAssignerNode", (VariableAggregatorNode,), {}))
