"""Load a Dify DSL export into typed models and normalise it (SPEC §1-§2, §8).

``load_app(path)`` parses the YAML once, at the edge, into pydantic models; everything after it
works on :class:`DifyApp`. Structural problems (not a Dify app, an edge to an unknown node, a cycle
that is not a loop, a DSL version newer than supported) raise :class:`DSLError` naming the file, the
node and the field. Node-level checks (unknown node type, a node's own fields, selectors to missing
nodes) run in :func:`workflow_core.validation.validate_app`, which ``load_app`` calls unless asked
not to.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflow_core.errors import DSLError

#: Newest DSL version this core understands (Dify's exporter writes 0.5.0 today).
MAX_SUPPORTED_VERSION = "0.5.0"
DEFAULT_VERSION = "0.1.0"
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
#: Node types that are containers: their children carry ``parent_id``.
CONTAINER_TYPES = frozenset({"iteration", "loop"})
_NOTE_WRAPPERS = frozenset({"custom-note"})

AppMode = Literal["workflow", "advanced-chat"]


class NodeSpec(BaseModel):
    """One node of the graph as the DSL declares it (canvas-only fields dropped)."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    title: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    parent_id: str | None = None


class EdgeSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    target: str
    source_handle: str = "source"


class VariableSpec(BaseModel):
    """An environment or conversation variable declared by the app."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: Any = None
    value_type: str = "string"
    description: str = ""


class DifyApp(BaseModel):
    """A loaded, normalised Dify app (``workflow`` or ``advanced-chat``)."""

    model_config = ConfigDict(frozen=True)

    name: str
    mode: AppMode
    version: str = DEFAULT_VERSION
    app_id: str
    description: str = ""
    nodes: tuple[NodeSpec, ...]
    edges: tuple[EdgeSpec, ...]
    environment_variables: tuple[VariableSpec, ...] = ()
    conversation_variables: tuple[VariableSpec, ...] = ()
    source: str = "<memory>"

    def node(self, node_id: str) -> NodeSpec:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    @property
    def node_ids(self) -> frozenset[str]:
        return frozenset(n.id for n in self.nodes)


def _version_tuple(version: str, where: str) -> tuple[int, int, int]:
    match = _VERSION_RE.match(version.strip())
    if match is None:
        raise DSLError(f"{where}: field 'version' must look like 0.1.5, got {version!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def load_app(path: str | Path, *, validate: bool = True) -> DifyApp:
    """Read ``path``, parse and normalise it; with ``validate`` also check every node."""
    file = Path(path)
    if not file.is_file():
        raise DSLError(f"{file}: file not found")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DSLError(f"{file.name}: not valid YAML: {exc}") from exc
    app = parse_app(raw, source=file.name)
    if validate:
        from workflow_core.validation import validate_app

        validate_app(app)
    return app


def parse_app(raw: Any, *, source: str = "<memory>") -> DifyApp:
    """Build a :class:`DifyApp` from an already-parsed YAML document."""
    if not isinstance(raw, dict) or raw.get("kind") != "app":
        raise DSLError(f"{source}: not a Dify app export (expected top-level 'kind: app')")
    version = str(raw.get("version") or DEFAULT_VERSION)
    if _version_tuple(version, source) > _version_tuple(MAX_SUPPORTED_VERSION, source):
        raise DSLError(
            f"{source}: field 'version': DSL version {version} is newer than the newest "
            f"supported ({MAX_SUPPORTED_VERSION})"
        )
    app_section = raw.get("app")
    if not isinstance(app_section, dict):
        raise DSLError(f"{source}: field 'app' is missing or not a mapping")
    mode = app_section.get("mode")
    if mode not in ("workflow", "advanced-chat"):
        raise DSLError(
            f"{source}: field 'app.mode' must be 'workflow' or 'advanced-chat', got {mode!r}"
        )
    workflow = raw.get("workflow")
    graph = workflow.get("graph") if isinstance(workflow, dict) else None
    if not isinstance(workflow, dict) or not isinstance(graph, dict):
        raise DSLError(f"{source}: field 'workflow.graph' is missing")
    name = str(app_section.get("name") or Path(source).stem)
    nodes = _parse_nodes(graph.get("nodes"), source)
    edges = _parse_edges(graph.get("edges"), source, {n.id for n in nodes})
    nodes = _normalise_legacy_iteration(nodes, edges, source)
    edges = edges + _legacy_iteration_edges(nodes)
    try:
        return DifyApp(
            name=name,
            mode=mode,
            version=version,
            app_id=_app_id(name, raw),
            description=str(app_section.get("description") or ""),
            nodes=tuple(nodes),
            edges=tuple(edges),
            environment_variables=_parse_variables(workflow, "environment_variables", source),
            conversation_variables=_parse_variables(workflow, "conversation_variables", source),
            source=source,
        )
    except ValidationError as exc:  # pragma: no cover - fields are checked above
        raise DSLError(f"{source}: {exc}") from exc


def _app_id(name: str, raw: dict[str, Any]) -> str:
    """Exports carry no app id: derive a stable one from the name and the graph's node ids."""
    graph = raw.get("workflow", {}).get("graph", {})
    ids = ",".join(str(n.get("id")) for n in graph.get("nodes") or [] if isinstance(n, dict))
    digest = hashlib.sha256(f"{name}\n{ids}".encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


def _is_note(raw: dict[str, Any]) -> bool:
    data = raw.get("data") or {}
    return raw.get("type") in _NOTE_WRAPPERS or not (isinstance(data, dict) and data.get("type"))


def _parse_nodes(raw_nodes: Any, source: str) -> list[NodeSpec]:
    if not isinstance(raw_nodes, list):
        raise DSLError(f"{source}: field 'workflow.graph.nodes' must be a list")
    nodes: list[NodeSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict) or "id" not in raw:
            raise DSLError(f"{source}: nodes[{index}]: field 'id' is missing")
        if _is_note(raw):
            continue
        node_id = str(raw["id"])
        if node_id in seen:
            raise DSLError(f"{source}: node {node_id}: field 'id' is duplicated")
        seen.add(node_id)
        data = dict(raw["data"])
        if _is_legacy_if_else(data):
            data["cases"] = [
                {
                    "case_id": "true",
                    "logical_operator": data.get("logical_operator") or "and",
                    "conditions": data.get("conditions") or [],
                }
            ]
        parent = raw.get("parentId") or data.get("iteration_id") or data.get("loop_id")
        nodes.append(
            NodeSpec(
                id=node_id,
                type=str(data["type"]),
                title=str(data.get("title") or ""),
                data=data,
                parent_id=str(parent) if parent else None,
            )
        )
    return nodes


def _is_legacy_if_else(data: dict[str, Any]) -> bool:
    return data.get("type") == "if-else" and not data.get("cases") and "conditions" in data


def _parse_edges(raw_edges: Any, source: str, node_ids: set[str]) -> list[EdgeSpec]:
    if raw_edges is None:
        return []
    if not isinstance(raw_edges, list):
        raise DSLError(f"{source}: field 'workflow.graph.edges' must be a list")
    edges: list[EdgeSpec] = []
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, dict):
            raise DSLError(f"{source}: edges[{index}] must be a mapping")
        edge_id = str(raw.get("id") or f"edge-{index}")
        for end in ("source", "target"):
            ref = raw.get(end)
            if ref is None:
                raise DSLError(f"{source}: edge {edge_id}: field '{end}' is missing")
            if str(ref) not in node_ids:
                raise DSLError(f"{source}: edge {edge_id}: field '{end}' names unknown node {ref}")
        edges.append(
            EdgeSpec(
                id=edge_id,
                source=str(raw["source"]),
                target=str(raw["target"]),
                source_handle=str(raw.get("sourceHandle") or "source"),
            )
        )
    return edges


def _normalise_legacy_iteration(
    nodes: list[NodeSpec], edges: list[EdgeSpec], source: str
) -> list[NodeSpec]:
    """DSL 0.1.0 iterations point ``start_node_id`` at a real child: add an iteration-start."""
    by_id = {n.id: n for n in nodes}
    result = list(nodes)
    for node in nodes:
        if node.type not in CONTAINER_TYPES:
            continue
        start_id = node.data.get("start_node_id")
        start = by_id.get(str(start_id)) if start_id else None
        if start is None:
            raise DSLError(
                f"{source}: node {node.id} ({node.type}): field 'start_node_id' names unknown "
                f"node {start_id!r}"
            )
        entry_type = f"{node.type}-start"
        if start.type == entry_type:
            continue
        synthetic_id = f"{node.id}__start"
        data = dict(node.data, start_node_id=synthetic_id, _legacy_first_child=start.id)
        result[result.index(node)] = node.model_copy(update={"data": data})
        result.append(
            NodeSpec(
                id=synthetic_id,
                type=entry_type,
                title="",
                data={"type": entry_type, "title": ""},
                parent_id=node.id,
            )
        )
    return result


def _legacy_iteration_edges(nodes: list[NodeSpec]) -> list[EdgeSpec]:
    """The edge from each synthetic iteration-start to the legacy first child."""
    extra: list[EdgeSpec] = []
    for node in nodes:
        first = node.data.get("_legacy_first_child")
        if node.type in CONTAINER_TYPES and first:
            start_id = str(node.data["start_node_id"])
            extra.append(EdgeSpec(id=f"{start_id}-source-{first}", source=start_id, target=first))
    return extra


def _parse_variables(workflow: dict[str, Any], key: str, source: str) -> tuple[VariableSpec, ...]:
    raw = workflow.get(key) or []
    if not isinstance(raw, list):
        raise DSLError(f"{source}: field 'workflow.{key}' must be a list")
    result: list[VariableSpec] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("name"):
            raise DSLError(f"{source}: field 'workflow.{key}[{index}].name' is missing")
        result.append(
            VariableSpec(
                name=str(item["name"]),
                value=item.get("value"),
                value_type=str(item.get("value_type") or "string"),
                description=str(item.get("description") or ""),
            )
        )
    return tuple(result)
