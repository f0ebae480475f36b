"""Stand-in for a node type whose module is not part of this build: loads, fails when run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, node_class, register

if TYPE_CHECKING:
    from workflow_core.context import RunContext


def register_unavailable(node_type: str) -> None:
    if node_class(node_type) is not None:
        return

    class UnavailableNode(Node[NodeData]):
        data_model = NodeData

        def run(self, ctx: RunContext) -> NodeOutcome:
            raise self.node_error(f"node type {self.type!r} is not available in this build")

    UnavailableNode.__name__ = f"Unavailable_{node_type.replace('-', '_')}"
    register(node_type)(UnavailableNode)
