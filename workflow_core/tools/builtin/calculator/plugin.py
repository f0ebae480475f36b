"""Built-in ``calculator`` plugin: evaluates arithmetic by walking Python's AST (no ``eval``)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workflow_core.tools.base import ToolError, ToolResult

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": round, "min": min, "max": max, "sqrt": math.sqrt, "log": math.log,
    "exp": math.exp, "sin": math.sin, "cos": math.cos, "tan": math.tan, "floor": math.floor,
    "ceil": math.ceil,
}  # fmt: skip
_CONSTANTS = {"pi": math.pi, "e": math.e}
_MAX_EXPONENT = 10_000


def evaluate(expression: str) -> float | int:
    """Evaluate ``expression``; anything but numbers, operators and listed functions is refused."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"calculator: cannot parse {expression!r}: {exc.msg}") from exc
    result: float | int = _eval(tree.body, expression)
    return result


def _eval(node: ast.AST, source: str) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, source))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, source), _eval(node.right, source)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ToolError(f"calculator: exponent {right} too large (max {_MAX_EXPONENT})")
        try:
            return _BINARY[type(node.op)](left, right)
        except (ZeroDivisionError, OverflowError, ValueError) as exc:
            raise ToolError(f"calculator: {source!r}: {exc}") from exc
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        args = [_eval(a, source) for a in node.args]
        try:
            return _FUNCTIONS[node.func.id](*args)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ToolError(f"calculator: {node.func.id}(): {exc}") from exc
    raise ToolError(
        f"calculator: {source!r}: unsupported element {ast.dump(node)[:60]!r}; "
        "only numbers, + - * / // % **, parentheses and math functions are allowed"
    )


class CalculatorPlugin:
    def __init__(self, settings: Mapping[str, str], directory: Path) -> None:
        self.settings = settings

    def invoke(
        self, tool: str, params: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> ToolResult:
        if tool != "calculate":
            raise ToolError(f"calculator: unknown tool {tool!r}")
        result = evaluate(str(params["expression"]))
        return ToolResult(text=str(result), json=({"result": result},))
