"""start: declares the run inputs and validates them (SPEC §4.1)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.errors import InputError
from workflow_core.files import file_from_path
from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register

if TYPE_CHECKING:
    from workflow_core.context import RunContext

_TEXT_TYPES = frozenset({"text-input", "paragraph", "select"})
_KNOWN_TYPES = _TEXT_TYPES | {"number", "file", "file-list", "checkbox", "json_object"}


class InputVariable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    variable: str
    label: str = ""
    type: str = "text-input"
    required: bool = False
    max_length: int | None = None
    options: list[str] = Field(default_factory=list)


class StartData(NodeData):
    variables: list[InputVariable] = Field(default_factory=list)


@register("start")
class StartNode(Node[StartData]):
    data_model = StartData

    def validate(self) -> None:
        for index, var in enumerate(self.config.variables):
            if var.type not in _KNOWN_TYPES:
                raise self.dsl_error(
                    f"variables[{index}].type",
                    f"unknown input type {var.type!r}; expected one of {sorted(_KNOWN_TYPES)}",
                )

    def coerce_inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Check and convert run inputs against the declared variables; :class:`InputError`."""
        declared = {v.variable for v in self.config.variables}
        unknown = sorted(set(inputs) - declared)
        if unknown:
            raise self._input_error(
                unknown[0], f"is not declared by the start node (declared: {sorted(declared)})"
            )
        return {
            var.variable: self._coerce(var, inputs.get(var.variable))
            for var in self.config.variables
        }

    def _coerce(self, var: InputVariable, value: Any) -> Any:
        if value is None or value == "":
            if var.required:
                raise self._input_error(var.variable, "is required")
            return None
        if var.type in _TEXT_TYPES:
            if not isinstance(value, str):
                raise self._input_error(var.variable, f"must be a string, got {value!r}")
            value = value.replace("\x00", "")
            if var.max_length and len(value) > var.max_length:
                raise self._input_error(
                    var.variable, f"is longer than max_length {var.max_length} ({len(value)})"
                )
            if var.type == "select" and var.options and value not in var.options:
                raise self._input_error(
                    var.variable, f"must be one of {var.options}, got {value!r}"
                )
            return value
        if var.type == "number":
            return self._number(var, value)
        if var.type == "checkbox":
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if var.type == "json_object":
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError as exc:
                    raise self._input_error(var.variable, f"must be a JSON object: {exc}") from exc
            if not isinstance(value, dict):
                raise self._input_error(var.variable, "must be a JSON object")
            return value
        if var.type == "file":
            return self._file(var, value)
        values = value if isinstance(value, list) else [value]
        return [self._file(var, v) for v in values]

    def _number(self, var: InputVariable, value: Any) -> int | float:
        if isinstance(value, bool):
            raise self._input_error(var.variable, f"must be a number, got {value!r}")
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value))
        except ValueError as exc:
            raise self._input_error(var.variable, f"must be a number, got {value!r}") from exc
        return int(number) if number.is_integer() and "." not in str(value) else number

    def _file(self, var: InputVariable, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        try:
            return file_from_path(str(value))
        except FileNotFoundError as exc:
            raise self._input_error(var.variable, f"file not found: {value}") from exc

    def _input_error(self, variable: str, message: str) -> InputError:
        return InputError(f"{self.source}: node {self.id} (start): input {variable!r} {message}")

    def run(self, ctx: RunContext) -> NodeOutcome:
        outputs = dict(ctx.inputs)
        # Older exports address system variables through the start node ([start, 'sys.query']).
        outputs.update({f"sys.{name}": value for name, value in ctx.pool.items("sys")})
        return NodeOutcome(outputs=outputs, inputs=dict(ctx.inputs))
