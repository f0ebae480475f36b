"""Exceptions of the workflow core. Messages name the file, the node, the field and the value."""

from __future__ import annotations


class FlowscopeError(Exception):
    """Base class of every error the workflow core raises on purpose."""


class DSLError(FlowscopeError):
    """A DSL file could not be loaded or is not a valid Dify app (CLI exit code 2)."""


class InputError(FlowscopeError):
    """Run inputs do not match the start node's declared variables (CLI exit code 2)."""


class NodeError(FlowscopeError):
    """A node failed while running (the run fails unless an error strategy handles it)."""

    def __init__(self, node_id: str, node_type: str, message: str) -> None:
        super().__init__(f"node {node_id} ({node_type}): {message}")
        self.node_id = node_id
        self.node_type = node_type


class NodeTimeoutError(NodeError):
    """A node ran longer than its timeout."""


class RunLimitError(FlowscopeError):
    """The run exceeded its step or wall-clock limit."""


class ProviderError(FlowscopeError):
    """An LLM provider call failed or is misconfigured."""


class SandboxError(FlowscopeError):
    """User code in a code node failed, timed out, broke a limit or returned the wrong types."""
