"""Whole-app validation: node types, each node's own fields, references, graph shape."""

from __future__ import annotations

from typing import Any

from workflow_core.dsl import DifyApp, NodeSpec
from workflow_core.errors import DSLError
from workflow_core.graph import AppGraph, build_scopes
from workflow_core.nodes import load_node_types
from workflow_core.nodes.base import Node, node_class

#: ``sys.*`` names a node may read (SPEC §3.2).
SYSTEM_VARIABLES = frozenset(
    {
        "query",
        "files",
        "conversation_id",
        "dialogue_count",
        "user_id",
        "app_id",
        "workflow_id",
        "workflow_run_id",
        "timestamp",
    }
)


def build_node(spec: NodeSpec, source: str) -> Node[Any]:
    cls = node_class(spec.type)
    if cls is None:
        raise DSLError(
            f"{source}: node {spec.id}: field 'data.type': unknown node type {spec.type!r}"
        )
    return cls(spec, source=source)


def validate_app(app: DifyApp) -> AppGraph:
    """Check every node and reference; return the executable graph."""
    load_node_types()
    nodes = {spec.id: build_node(spec, app.source) for spec in app.nodes}
    for node in nodes.values():
        node.validate()
    scopes = build_scopes(app, nodes)
    _check_references(app, nodes)
    _check_handles(app, nodes)
    return AppGraph(app=app, nodes=nodes, scopes=scopes)


def _check_references(app: DifyApp, nodes: dict[str, Node[Any]]) -> None:
    env = {v.name for v in app.environment_variables}
    conversation = {v.name for v in app.conversation_variables}
    for node in nodes.values():
        for field_name, selector in node.selectors():
            owner, name = selector[0], selector[1]
            problem = None
            if owner == "sys":
                if name not in SYSTEM_VARIABLES:
                    problem = f"unknown system variable sys.{name}"
            elif owner == "env":
                if name not in env:
                    problem = f"unknown environment variable env.{name}"
            elif owner == "conversation":
                if name not in conversation:
                    problem = f"unknown conversation variable conversation.{name}"
            elif owner not in nodes:
                problem = f"selector {'.'.join(selector)} names unknown node {owner}"
            if problem:
                raise node.dsl_error(field_name, problem)


def _handles(node: Node[Any]) -> set[str]:
    """The branch handles a node can take (SPEC §1.3)."""
    data = node.spec.data
    if node.type == "if-else":
        handles = {str(c.get("case_id")) for c in data.get("cases") or []} | {"false"}
    elif node.type == "question-classifier":
        handles = {str(c.get("id")) for c in data.get("classes") or []}
    else:
        handles = {"source"}
    if node.config.error_strategy == "fail-branch":
        handles |= {"source", "fail-branch"}
    return handles


def _check_handles(app: DifyApp, nodes: dict[str, Node[Any]]) -> None:
    for edge in app.edges:
        source = nodes[edge.source]
        allowed = _handles(source)
        if edge.source_handle not in allowed:
            raise DSLError(
                f"{app.source}: edge {edge.id}: field 'sourceHandle': node {source.id} "
                f"({source.type}) has no handle {edge.source_handle!r}; expected one of "
                f"{sorted(allowed)}"
            )
