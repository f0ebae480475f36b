"""Dify's node error strategies (SPEC §6): fail-branch and default-value."""

from __future__ import annotations

import json
from typing import Any

from workflow_core.errors import NodeError, NodeTimeoutError
from workflow_core.nodes.base import DefaultValue, Node, NodeOutcome


def error_fields(error: NodeError) -> dict[str, Any]:
    kind = "TimeoutError" if isinstance(error, NodeTimeoutError) else type(error).__name__
    return {"error_message": str(error), "error_type": kind}


def default_outputs(defaults: list[DefaultValue]) -> dict[str, Any]:
    """``default_value`` entries as outputs; strings converted per declared ``type``."""
    outputs: dict[str, Any] = {}
    for item in defaults:
        value = item.value
        if isinstance(value, str) and item.type == "number":
            number = float(value)
            value = int(number) if number.is_integer() else number
        elif isinstance(value, str) and (item.type == "object" or item.type.startswith("array")):
            value = json.loads(value) if value.strip() else ([] if "array" in item.type else {})
        elif item.type == "boolean" and isinstance(value, str):
            value = value.strip().lower() in ("true", "1", "yes")
        outputs[item.key] = value
    return outputs


def apply_error_strategy(node: Node[Any], error: NodeError) -> NodeOutcome | None:
    """The outcome that replaces a failure, or ``None`` when the failure must fail the run."""
    strategy = node.config.error_strategy
    if strategy == "fail-branch":
        return NodeOutcome(outputs=error_fields(error), handle="fail-branch")
    if strategy == "default-value":
        return NodeOutcome(
            outputs={**default_outputs(node.config.default_value), **error_fields(error)}
        )
    return None
