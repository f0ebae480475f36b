"""The executable graph: node instances and edges grouped by scope (top level or a container)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from workflow_core.dsl import DifyApp, EdgeSpec
from workflow_core.errors import DSLError
from workflow_core.nodes.base import Node

TOP = ""  # scope id of the top-level graph


@dataclass
class Scope:
    """Nodes and edges of one scope; edges keep their DSL order (SPEC §5.4)."""

    id: str
    root: str
    node_ids: list[str] = field(default_factory=list)
    outgoing: dict[str, list[EdgeSpec]] = field(default_factory=lambda: defaultdict(list))
    incoming: dict[str, list[EdgeSpec]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class AppGraph:
    app: DifyApp
    nodes: dict[str, Node[Any]]
    scopes: dict[str, Scope]

    def scope_of(self, node_id: str) -> str:
        return self.nodes[node_id].spec.parent_id or TOP


def build_scopes(app: DifyApp, nodes: dict[str, Node[Any]]) -> dict[str, Scope]:
    """Group nodes and edges by scope, find each scope's root and reject cycles."""
    members: dict[str, list[str]] = defaultdict(list)
    for node_id, node in nodes.items():
        members[node.spec.parent_id or TOP].append(node_id)
    scopes: dict[str, Scope] = {}
    for scope_id, ids in members.items():
        root = _root(app, nodes, scope_id, ids)
        scopes[scope_id] = Scope(id=scope_id, root=root, node_ids=ids)
    for edge in app.edges:
        source_scope = nodes[edge.source].spec.parent_id or TOP
        target_scope = nodes[edge.target].spec.parent_id or TOP
        if source_scope != target_scope:
            raise DSLError(
                f"{app.source}: edge {edge.id}: field 'target': node {edge.target} is not in the "
                f"same container as source node {edge.source}"
            )
        scopes[source_scope].outgoing[edge.source].append(edge)
        scopes[source_scope].incoming[edge.target].append(edge)
    for scope in scopes.values():
        _reject_cycles(app, scope)
    return scopes


def _root(app: DifyApp, nodes: dict[str, Node[Any]], scope_id: str, ids: list[str]) -> str:
    if scope_id == TOP:
        targets = {e.target for e in app.edges}
        starts = [i for i in ids if nodes[i].type == "start" and i not in targets]
        if starts:
            return starts[0]
        start = next((i for i in ids if nodes[i].type == "start"), None)
        if start is not None:
            raise DSLError(
                f"{app.source}: node {start} (start): field 'edges': the start node has an "
                "incoming edge"
            )
        raise DSLError(f"{app.source}: field 'workflow.graph.nodes': no start node")
    container = nodes.get(scope_id)
    if container is None:
        raise DSLError(
            f"{app.source}: node {ids[0]}: field 'parentId' names unknown container {scope_id}"
        )
    start = str(container.spec.data.get("start_node_id") or "")
    if start not in ids:
        raise DSLError(
            f"{app.source}: node {scope_id} ({container.type}): field 'start_node_id' names "
            f"{start!r}, which is not a child of this container"
        )
    return start


def _reject_cycles(app: DifyApp, scope: Scope) -> None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(node_id: str, path: list[str]) -> None:
        state[node_id] = 1
        for edge in scope.outgoing.get(node_id, []):
            if state.get(edge.target) == 1:
                cycle = [*path[path.index(edge.target) :], edge.target]
                raise DSLError(
                    f"{app.source}: node {edge.target}: field 'edges': cycle "
                    f"{' -> '.join(cycle)} (only loop nodes may repeat work)"
                )
            if edge.target not in state:
                visit(edge.target, [*path, edge.target])
        state[node_id] = 2

    for node_id in scope.node_ids:
        if node_id not in state:
            visit(node_id, [node_id])
