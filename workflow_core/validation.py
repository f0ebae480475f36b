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
