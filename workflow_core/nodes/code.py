"""code: runs ``main(**inputs)`` in the isolated sandbox and checks declared outputs (SPEC §7.6)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.errors import SandboxError
from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register

if TYPE_CHECKING:
    from workflow_core.context import RunContext

MAX_STRING = 400_000
MAX_DEPTH = 5
_ARRAY_LIMITS = {"array[string]": 30, "array[object]": 30, "array[number]": 1000}
_TYPES = frozenset(
    {
        "string",
        "number",
        "boolean",
        "object",
        "array[string]",
        "array[number]",
        "array[object]",
        "array[boolean]",
    }
)


class OutputType(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    children: dict[str, OutputType] | None = None


class CodeVariable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    variable: str
    value_selector: list[str] = Field(default_factory=list)


class CodeData(NodeData):
    code_language: Literal["python3", "javascript"] = "python3"
    code: str = ""
    variables: list[CodeVariable] = Field(default_factory=list)
    outputs: dict[str, OutputType] = Field(default_factory=dict)


@register("code")
class CodeNode(Node[CodeData]):
    data_model = CodeData
    retryable = True

    def validate(self) -> None:
        if self.config.code_language != "python3":
            raise self.dsl_error(
                "code_language",
                f"{self.config.code_language} code nodes are not supported; only python3 runs",
            )
        for key, spec in self.config.outputs.items():
            if spec.type not in _TYPES:
                raise self.dsl_error(f"outputs.{key}.type", f"unknown output type {spec.type!r}")
        try:
            compile(self.config.code, f"{self.source}:{self.id}", "exec")
        except SyntaxError as exc:
            raise self.dsl_error(
                "code", f"Python syntax error line {exc.lineno}: {exc.msg}"
            ) from exc

    def run(self, ctx: RunContext) -> NodeOutcome:
        inputs = {v.variable: ctx.get(v.value_selector) for v in self.config.variables}
        try:
            result = ctx.services.sandbox.execute(
                self.config.code, inputs, language=self.config.code_language
            )
        except SandboxError as exc:
            raise self.node_error(str(exc)) from exc
        outputs = self._check(result)
        return NodeOutcome(outputs=outputs, inputs=inputs)

    def _check(self, result: dict[str, Any]) -> dict[str, Any]:
        declared = self.config.outputs
        extra = sorted(set(result) - set(declared))
        if extra:
            raise self.node_error(f"main() returned undeclared output {extra[0]!r}")
        missing = sorted(set(declared) - set(result))
        if missing:
            raise self.node_error(f"main() did not return declared output {missing[0]!r}")
        return {key: self._value(key, spec, result[key], 1) for key, spec in declared.items()}

    def _value(self, path: str, spec: OutputType, value: Any, depth: int) -> Any:
        if value is None:
            return None
        if depth > MAX_DEPTH:
            raise self.node_error(f"output {path!r} is nested deeper than {MAX_DEPTH} levels")
        kind = spec.type
        if kind == "string":
            if not isinstance(value, str):
                raise self._wrong(path, kind, value)
            if len(value) > MAX_STRING:
                raise self.node_error(f"output {path!r} is longer than {MAX_STRING} characters")
            return value.replace("\x00", "")
        if kind == "number":
            return self._number(path, value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise self._wrong(path, kind, value)
            return value
        if kind == "object":
            if not isinstance(value, dict):
                raise self._wrong(path, kind, value)
            if spec.children:
                return {
                    k: self._value(f"{path}.{k}", child, value.get(k), depth + 1)
                    for k, child in spec.children.items()
                }
            return value
        if not isinstance(value, list):
            raise self._wrong(path, kind, value)
        limit = _ARRAY_LIMITS.get(kind)
        if limit is not None and len(value) > limit:
            raise self.node_error(f"output {path!r} has {len(value)} items; {kind} allows {limit}")
        element = OutputType(type=kind[len("array[") : -1])
        return [self._value(f"{path}[{i}]", element, v, depth + 1) for i, v in enumerate(value)]

    def _number(self, path: str, value: Any) -> int | float:
        if isinstance(value, bool):
            return int(value)
        if not isinstance(value, int | float):
            raise self._wrong(path, "number", value)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.node_error(f"output {path!r} must be a finite number, got {value}")
        if abs(value) >= 2**63:
            raise self.node_error(f"output {path!r} is out of range: {value}")
        return value

    def _wrong(self, path: str, kind: str, value: Any) -> Exception:
        return self.node_error(
            f"output {path!r} must be {kind}, got {type(value).__name__} {str(value)[:80]!r}"
        )
