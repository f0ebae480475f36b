"""Condition evaluation shared by if-else, loop break conditions and list-operator filters
(SPEC §7.5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.variables import is_missing

if TYPE_CHECKING:
    from workflow_core.context import RunContext


class ConditionError(ValueError):
    """A condition cannot be evaluated (wrong type, missing variable)."""


class SubCondition(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = ""
    comparison_operator: str
    value: Any = None


class SubConditions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    logical_operator: Literal["and", "or"] = "and"
    conditions: list[SubCondition] = Field(default_factory=list)


class Condition(BaseModel):
    model_config = ConfigDict(extra="ignore")

    variable_selector: list[str] = Field(default_factory=list)
    comparison_operator: str
    value: Any = None
    varType: str = ""
    sub_variable_condition: SubConditions | None = None


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {}


def _op(*names: str) -> Callable[[Callable[[Any, Any], bool]], Callable[[Any, Any], bool]]:
    def decorate(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        for name in names:
            OPERATORS[name] = fn
        return fn

    return decorate


@_op("contains")
def _contains(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if not isinstance(actual, str | list | tuple):
        raise ConditionError(f"'contains' needs a string or list, got {type(actual).__name__}")
    return expected in actual


@_op("not contains")
def _not_contains(actual: Any, expected: Any) -> bool:
    return not actual or not _contains(actual, expected)


@_op("start with")
def _start(actual: Any, expected: Any) -> bool:
    return bool(actual) and _string(actual, "start with").startswith(str(expected))


@_op("end with")
def _end(actual: Any, expected: Any) -> bool:
    return bool(actual) and _string(actual, "end with").endswith(str(expected))


@_op("is")
def _is(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(actual, bool):
        return actual == _bool(expected)
    return _string(actual, "is") == _text(expected)


@_op("is not")
def _is_not(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    return not _is(actual, expected)


@_op("empty")
def _empty(actual: Any, expected: Any) -> bool:
    return not actual


@_op("not empty")
def _not_empty(actual: Any, expected: Any) -> bool:
    return bool(actual)


@_op("null", "not exists")
def _null(actual: Any, expected: Any) -> bool:
    return actual is None


@_op("not null", "exists")
def _not_null(actual: Any, expected: Any) -> bool:
    return actual is not None


@_op("in")
def _in(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    return actual in _list(expected)


@_op("not in")
def _not_in(actual: Any, expected: Any) -> bool:
    return not actual or actual not in _list(expected)


@_op("all of")
def _all_of(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    return all(item in actual for item in _list(expected))


def _numeric(name: str, test: Callable[[float, float], bool]) -> None:
    def compare(actual: Any, expected: Any) -> bool:
        if actual is None:
            return False
        if isinstance(actual, str):  # Dify coerces numeric strings in newer versions
            try:
                actual = float(actual)
            except ValueError as exc:
                raise ConditionError(f"'{name}' needs a number, got {actual!r}") from exc
        if not isinstance(actual, int | float):
            raise ConditionError(f"'{name}' needs a number, got {type(actual).__name__}")
        try:
            target = float(_text(expected))
        except ValueError as exc:
            raise ConditionError(f"'{name}' compares with a number, got {expected!r}") from exc
        return test(float(actual), target)

    OPERATORS[name] = compare


_numeric("=", lambda a, b: a == b)
_numeric("≠", lambda a, b: a != b)
_numeric("!=", lambda a, b: a != b)
_numeric(">", lambda a, b: a > b)
_numeric("<", lambda a, b: a < b)
_numeric("≥", lambda a, b: a >= b)
_numeric(">=", lambda a, b: a >= b)
_numeric("≤", lambda a, b: a <= b)
_numeric("<=", lambda a, b: a <= b)


def _string(actual: Any, op: str) -> str:
    if not isinstance(actual, str):
        raise ConditionError(f"'{op}' needs a string, got {type(actual).__name__}")
    return actual


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def _list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        return [value]
    raise ConditionError(f"'in' needs a list of values, got {type(value).__name__}")


def compare(operator: str, actual: Any, expected: Any) -> bool:
    try:
        test = OPERATORS[operator]
    except KeyError:
        raise ConditionError(f"unknown comparison operator {operator!r}") from None
    return test(actual, expected)


def _render_expected(value: Any, ctx: RunContext) -> Any:
    if isinstance(value, str):
        return ctx.render(value)
    if isinstance(value, list):
        return [ctx.render(v) if isinstance(v, str) else v for v in value]
    return value


def _file_condition(condition: Condition, files: Any, ctx: RunContext) -> bool:
    """File arrays: sub-conditions are tested per file (SPEC §7.5, last row)."""
    sub = condition.sub_variable_condition
    assert sub is not None
    items = files if isinstance(files, list) else ([] if files is None else [files])
    negate = "not" in condition.comparison_operator

    def matches(sc: SubCondition) -> bool:
        expected = _render_expected(sc.value, ctx)
        results = [compare(sc.comparison_operator, f.get(sc.key), expected) for f in items]
        return all(results) if negate else any(results)

    checks = (matches(sc) for sc in sub.conditions)
    passed = all(checks) if sub.logical_operator == "and" else any(checks)
    return passed


def evaluate(conditions: Sequence[Condition], logical_operator: str, ctx: RunContext) -> bool:
    """Left-to-right with short-circuit. Missing variables raise :class:`ConditionError`."""
    for condition in conditions:
        actual = ctx.pool.lookup(condition.variable_selector)
        if is_missing(actual):
            raise ConditionError(
                f"condition variable {'.'.join(condition.variable_selector)} not found"
            )
        if condition.sub_variable_condition and condition.sub_variable_condition.conditions:
            passed = _file_condition(condition, actual, ctx)
        else:
            expected = _render_expected(condition.value, ctx)
            if isinstance(actual, bool) and isinstance(expected, str):
                expected = _bool(expected)
            passed = compare(condition.comparison_operator, actual, expected)
        if logical_operator == "or" and passed:
            return True
        if logical_operator != "or" and not passed:
            return False
    return logical_operator != "or" or not conditions
