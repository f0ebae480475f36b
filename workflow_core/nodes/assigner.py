"""assigner: writes conversation (or loop) variables, v1 and v2 forms (SPEC §7.9)."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.variables import Selector, infer_type, is_missing

if TYPE_CHECKING:
    from workflow_core.context import RunContext

_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.add,
    "-=": operator.sub,
    "*=": operator.mul,
    "/=": operator.truediv,
}
OPERATIONS = frozenset(
    {"over-write", "set", "clear", "append", "extend", "remove-first", "remove-last"}
) | frozenset(_ARITHMETIC)


class AssignItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    variable_selector: list[str] = Field(min_length=2)
    input_type: Literal["variable", "constant"] = "variable"
    operation: str = "over-write"
    value: Any = None


class AssignerData(NodeData):
    version: str = "1"
    items: list[AssignItem] = Field(default_factory=list)
    # v1 fields
    assigned_variable_selector: list[str] = Field(default_factory=list)
    input_variable_selector: list[str] = Field(default_factory=list)
    write_mode: Literal["over-write", "append", "clear"] = "over-write"


@register("assigner")
class AssignerNode(Node[AssignerData]):
    data_model = AssignerData
    writes_shared_state = True

    def items(self) -> list[AssignItem]:
        if self.config.version == "2" or self.config.items:
            return self.config.items
        return [
            AssignItem(
                variable_selector=self.config.assigned_variable_selector,
                input_type="variable",
                operation=self.config.write_mode,
                value=self.config.input_variable_selector,
            )
        ]

    def validate(self) -> None:
        legacy = self.config.version != "2" and not self.config.items
        if legacy and len(self.config.assigned_variable_selector) < 2:
            raise self.dsl_error("assigned_variable_selector", "a target selector is required")
        for i, item in enumerate(self.items()):
            if item.operation not in OPERATIONS:
                raise self.dsl_error(
                    f"items[{i}].operation", f"unknown operation {item.operation!r}"
                )

    def selectors(self) -> Iterator[tuple[str, Selector]]:
        for i, item in enumerate(self.items()):
            yield f"items[{i}].variable_selector", tuple(item.variable_selector)
            if item.input_type == "variable" and isinstance(item.value, list) and item.value:
                yield f"items[{i}].value", tuple(str(p) for p in item.value)

    def run(self, ctx: RunContext) -> NodeOutcome:
        written: dict[str, Any] = {}
        for item in self.items():
            target = item.variable_selector
            current = ctx.pool.lookup(target)
            if is_missing(current):
                raise self.node_error(f"assigned variable {'.'.join(target)} not found")
            value = item.value
            if item.input_type == "variable" and item.operation != "clear":
                value = ctx.pool.lookup(item.value or [])
                if is_missing(value):
                    raise self.node_error(f"input variable {'.'.join(item.value or [])} not found")
                if value is None:
                    continue
            new = self._apply(item.operation, current, value)
            ctx.set(target, new)
            written[".".join(target)] = new
        return NodeOutcome(outputs={}, inputs={"updated": written})

    def _apply(self, operation: str, current: Any, value: Any) -> Any:
        kind = infer_type(current)
        if operation in ("over-write", "set"):
            if operation == "set" and isinstance(value, str) and isinstance(current, dict | list):
                value = json.loads(value)
            self._check_type(current, value)
            return value
        if operation == "clear":
            return {"string": "", "number": 0, "object": {}}.get(
                kind, [] if isinstance(current, list) else None
            )
        if operation in _ARITHMETIC:
            if not isinstance(current, int | float) or isinstance(current, bool):
                raise self.node_error(f"{operation} needs a number variable, got {kind}")
            number = _number(value)
            if operation == "/=" and number == 0:
                raise self.node_error("division by zero")
            return _ARITHMETIC[operation](current, number)
        if not isinstance(current, list):
            raise self.node_error(f"{operation} needs an array variable, got {kind}")
        if operation == "append":
            return [*current, value]
        if operation == "extend":
            if not isinstance(value, list):
                raise self.node_error(f"extend needs an array value, got {infer_type(value)}")
            return [*current, *value]
        if operation == "remove-first":
            return current[1:]
        return current[:-1]

    def _check_type(self, current: Any, value: Any) -> None:
        if current is None or value is None:
            return
        ok = (
            (isinstance(current, str) and isinstance(value, str))
            or (
                isinstance(current, int | float)
                and not isinstance(current, bool)
                and isinstance(value, int | float)
            )
            or (isinstance(current, bool) and isinstance(value, bool))
            or (isinstance(current, dict) and isinstance(value, dict))
            or (isinstance(current, list) and isinstance(value, list))
        )
        if not ok:
            raise self.node_error(
                f"cannot assign a {infer_type(value)} to a {infer_type(current)} variable"
            )


def _number(value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    number = float(str(value))
    return int(number) if number.is_integer() else number
