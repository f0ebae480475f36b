"""The pro-code form of a workflow: build the graph in Python, export Dify DSL, import it back.

```python
from workflow_core.builder import Workflow

wf = Workflow("greeter", mode="workflow")
start = wf.start(variables=[{"variable": "name", "type": "text-input", "required": True}])

@wf.code(outputs={"greeting": "string"}, inputs={"name": start["name"]})
def greet(name: str) -> dict:
    return {"greeting": f"Hello {name}"}

end = wf.end(outputs={"text": greet["greeting"]})
start >> greet >> end
wf.save("greeter.yml")          # Dify DSL, loadable by Dify and by `flowscope run`
again = Workflow.load("greeter.yml")
```

A :class:`NodeRef` is a node of the graph: ``ref["key"]`` is the selector of one of its outputs,
``ref.ref("key")`` the ``{{#id.key#}}`` template reference, ``a >> b`` an edge (``a.branch("true")
>> b`` for a branch handle). Unknown node fields are kept verbatim, so importing and exporting
a file changes nothing the engine reads.
"""

from __future__ import annotations

import inspect
import itertools
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from workflow_core.errors import DSLError

if TYPE_CHECKING:
    from workflow_core.dsl import DifyApp

DEFAULT_VERSION = "0.1.5"
_CONTAINER_START = {"iteration": "iteration-start", "loop": "loop-start"}
_WRAPPER = {"iteration-start": "custom-iteration-start", "loop-start": "custom-loop-start"}


@dataclass
class NodeDef:
    """One node as the DSL stores it (``data`` holds every field but ``type``)."""

    id: str
    type: str
    data: dict[str, Any]
    parent_id: str | None = None
    wrapper: str = "custom"
    #: Canvas and other wrapper keys (position, width…), kept so an import re-exports them.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EdgeDef:
    source: str
    target: str
    handle: str = "source"
    extra: tuple[tuple[str, Any], ...] = ()


class NodeRef:
    """A handle on a node of a :class:`Workflow`."""

    def __init__(self, workflow: Workflow, node_id: str, handle: str = "source") -> None:
        self.workflow = workflow
        self.id = node_id
        self.handle = handle

    def __getitem__(self, output: str) -> list[str]:
        """Selector of output ``output`` (``value_selector`` form)."""
        return [self.id, output]

    def ref(self, output: str) -> str:
        """Template reference ``{{#id.output#}}`` to output ``output``."""
        return "{{#" + f"{self.id}.{output}" + "#}}"

    def branch(self, handle: str) -> NodeRef:
        """This node seen through a branch handle (if-else case id, class id, ``fail-branch``)."""
        return NodeRef(self.workflow, self.id, handle)

    def __rshift__(self, other: NodeRef) -> NodeRef:
        self.workflow.connect(self, other)
        return other

    def __repr__(self) -> str:
        return f"NodeRef({self.id!r}, handle={self.handle!r})"


class Workflow:
    """A Dify app under construction (or imported from DSL)."""

    def __init__(
        self,
        name: str,
        *,
        mode: str = "workflow",
        version: str = DEFAULT_VERSION,
        description: str = "",
    ) -> None:
        if mode not in ("workflow", "advanced-chat"):
            raise DSLError(f"workflow {name!r}: mode must be 'workflow' or 'advanced-chat'")
        self.name = name
        self.mode = mode
        self.version = version
        self.description = description
        self.nodes: dict[str, NodeDef] = {}
        self.edges: list[EdgeDef] = []
        self.environment_variables: list[dict[str, Any]] = []
        self.conversation_variables: list[dict[str, Any]] = []
        #: Top-level keys the builder does not interpret (``dependencies``, ``app.icon``…).
        self.app_extra: dict[str, Any] = {}
        self.top_extra: dict[str, Any] = {}
        self.workflow_extra: dict[str, Any] = {}
        self.graph_extra: dict[str, Any] = {}
        self._ids = itertools.count(1)

    # -- building ---------------------------------------------------------------------------
    def add(
        self,
        node_type: str,
        *,
        id: str | None = None,
        title: str | None = None,
        parent: NodeRef | None = None,
        **data: Any,
    ) -> NodeRef:
        """Add a node of ``node_type`` with DSL ``data`` fields; returns its reference."""
        node_id = id or self._new_id(node_type)
        if node_id in self.nodes:
            raise DSLError(f"workflow {self.name!r}: duplicate node id {node_id!r}")
        payload = {"title": title if title is not None else node_type, **data}
        if parent is not None:
            kind = self.nodes[parent.id].type
            payload.setdefault("isInIteration" if kind == "iteration" else "isInLoop", True)
        self.nodes[node_id] = NodeDef(
            node_id,
            node_type,
            payload,
            parent.id if parent else None,
            _WRAPPER.get(node_type, "custom"),
        )
        ref = NodeRef(self, node_id)
        if node_type in _CONTAINER_START:
            start = self.add(
                _CONTAINER_START[node_type], id=f"{node_id}start", title="", parent=ref
            )
            self.nodes[node_id].data.setdefault("start_node_id", start.id)
        return ref

    def connect(self, source: NodeRef, target: NodeRef, handle: str | None = None) -> None:
        for ref in (source, target):
            if ref.id not in self.nodes:
                raise DSLError(f"workflow {self.name!r}: edge names unknown node {ref.id!r}")
        self.edges.append(EdgeDef(source.id, target.id, handle or source.handle))

    def node(self, node_id: str) -> NodeRef:
        if node_id not in self.nodes:
            raise KeyError(node_id)
        return NodeRef(self, node_id)

    def container_start(self, container: NodeRef) -> NodeRef:
        """The ``iteration-start`` / ``loop-start`` child of a container."""
        return NodeRef(self, str(self.nodes[container.id].data["start_node_id"]))

    def _new_id(self, node_type: str) -> str:
        while True:
            candidate = f"{node_type.replace('-', '_')}_{next(self._ids)}"
            if candidate not in self.nodes:
                return candidate

    # -- typed helpers for common nodes ------------------------------------------------------
    def start(self, variables: Sequence[Mapping[str, Any]] = (), **kw: Any) -> NodeRef:
        full = [{"label": v.get("variable"), "required": False, **v} for v in variables]
        return self.add("start", title=kw.pop("title", "Start"), variables=full, **kw)

    def end(self, outputs: Mapping[str, list[str]], **kw: Any) -> NodeRef:
        rows = [{"variable": k, "value_selector": list(v)} for k, v in outputs.items()]
        return self.add("end", title=kw.pop("title", "End"), outputs=rows, **kw)

    def answer(self, text: str, **kw: Any) -> NodeRef:
        return self.add("answer", title=kw.pop("title", "Answer"), answer=text, variables=[], **kw)

    def llm(
        self,
        prompt: str,
        *,
        system: str = "",
        provider: str = "openai",
        model: str = "gpt-4o-mini",
        **kw: Any,
    ) -> NodeRef:
        messages = [{"role": "system", "text": system}] if system else []
        messages.append({"role": "user", "text": prompt})
        return self.add(
            "llm",
            title=kw.pop("title", "LLM"),
            model={"provider": provider, "name": model, "mode": "chat", "completion_params": {}},
            prompt_template=messages,
            context={"enabled": False, "variable_selector": []},
            vision={"enabled": False},
            **kw,
        )

    def template(self, template: str, inputs: Mapping[str, list[str]], **kw: Any) -> NodeRef:
        variables = [{"variable": k, "value_selector": list(v)} for k, v in inputs.items()]
        return self.add(
            "template-transform",
            title=kw.pop("title", "Template"),
            template=template,
            variables=variables,
            **kw,
        )

    def code(
        self,
        *,
        outputs: Mapping[str, str],
        inputs: Mapping[str, list[str]],
        **kw: Any,
    ) -> Callable[[Callable[..., Any]], NodeRef]:
        """Decorator: a Python function becomes a code node (its source is the node's code,
        renamed ``main``; ``inputs`` bind its parameters to selectors)."""

        def decorate(func: Callable[..., Any]) -> NodeRef:
            source = textwrap.dedent(inspect.getsource(func))
            lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith("@")]
            code = "\n".join(lines).replace(f"def {func.__name__}(", "def main(", 1)
            # Annotations may name things the sandbox does not import (``Any``): keep them lazy.
            code = "from __future__ import annotations\n\n" + code
            missing = set(inspect.signature(func).parameters) - set(inputs)
            if missing:
                raise DSLError(f"code node {func.__name__}: parameters {sorted(missing)} unbound")
            return self.add(
                "code",
                id=kw.pop("id", None),
                title=kw.pop("title", func.__name__),
                code_language="python3",
                code=code + "\n",
                variables=[{"variable": k, "value_selector": list(v)} for k, v in inputs.items()],
                outputs={k: {"type": t, "children": None} for k, t in outputs.items()},
                **kw,
            )

        return decorate

    # -- DSL export / import ------------------------------------------------------------------
    def to_dsl(self) -> dict[str, Any]:
        nodes = []
        for node in self.nodes.values():
            raw: dict[str, Any] = {
                "id": node.id,
                "type": node.wrapper,
                "data": {"type": node.type, **node.data},
                **node.extra,
            }
            if node.parent_id is not None:
                raw["parentId"] = node.parent_id
            nodes.append(raw)
        edges = []
        for edge in self.edges:
            raw_edge = dict(edge.extra)
            raw_edge.setdefault("id", f"{edge.source}-{edge.handle}-{edge.target}-target")
            raw_edge.update(
                source=edge.source,
                sourceHandle=edge.handle,
                target=edge.target,
                targetHandle=raw_edge.get("targetHandle", "target"),
                type=raw_edge.get("type", "custom"),
            )
            edges.append(raw_edge)
        app = {**self.app_extra, "name": self.name, "mode": self.mode}
        app["description"] = self.description
        workflow = {
            **self.workflow_extra,
            "conversation_variables": self.conversation_variables,
            "environment_variables": self.environment_variables,
            "graph": {**self.graph_extra, "nodes": nodes, "edges": edges},
        }
        return {**self.top_extra, "app": app, "kind": "app", "version": self.version,
                "workflow": workflow}  # fmt: skip

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dsl(), allow_unicode=True, sort_keys=False)

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(self.to_yaml(), encoding="utf-8")
        return target

    def to_app(self, source: str | None = None) -> DifyApp:
        """The workflow as the engine loads it (normalised and validated)."""
        from workflow_core.dsl import parse_app
        from workflow_core.validation import validate_app

        app = parse_app(self.to_dsl(), source=source or f"{self.name}.yml")
        validate_app(app)
        return app

    @classmethod
    def from_dsl(cls, raw: Mapping[str, Any], *, source: str = "<memory>") -> Workflow:
        """Import a Dify DSL document (already parsed YAML). Every field is kept."""
        if not isinstance(raw, Mapping) or raw.get("kind") != "app":
            raise DSLError(f"{source}: not a Dify app export (expected top-level 'kind: app')")
        app = dict(raw.get("app") or {})
        workflow = dict(raw.get("workflow") or {})
        graph = dict(workflow.pop("graph", None) or {})
        wf = cls(
            str(app.pop("name", Path(source).stem)),
            mode=str(app.pop("mode", "workflow")),
            version=str(raw.get("version") or "0.1.0"),
            description=str(app.pop("description", "") or ""),
        )
        wf.app_extra = app
        wf.top_extra = {
            k: v for k, v in raw.items() if k not in ("app", "kind", "version", "workflow")
        }
        wf.conversation_variables = list(workflow.pop("conversation_variables", None) or [])
        wf.environment_variables = list(workflow.pop("environment_variables", None) or [])
        wf.workflow_extra = workflow
        for raw_node in graph.pop("nodes", None) or []:
            wf._import_node(raw_node, source)
        for raw_edge in graph.pop("edges", None) or []:
            extra = {
                k: v for k, v in raw_edge.items() if k not in ("source", "target", "sourceHandle")
            }
            wf.edges.append(
                EdgeDef(
                    str(raw_edge["source"]),
                    str(raw_edge["target"]),
                    str(raw_edge.get("sourceHandle") or "source"),
                    tuple(extra.items()),
                )
            )
        wf.graph_extra = graph
        return wf

    def put(self, node: NodeDef) -> NodeRef:
        """Add a node exactly as given (no title default, no container start)."""
        if node.id in self.nodes:
            raise DSLError(f"workflow {self.name!r}: duplicate node id {node.id!r}")
        self.nodes[node.id] = node
        return NodeRef(self, node.id)

    def _import_node(self, raw: Mapping[str, Any], source: str) -> None:
        data = dict(raw.get("data") or {})
        node_id = str(raw.get("id"))
        extra = {k: v for k, v in raw.items() if k not in ("id", "type", "data", "parentId")}
        node = NodeDef(
            id=node_id,
            type=str(data.pop("type", "")),
            data=data,
            parent_id=str(raw["parentId"]) if raw.get("parentId") else None,
            wrapper=str(raw.get("type") or "custom"),
            extra=extra,
        )
        if node_id in self.nodes:
            raise DSLError(f"{source}: duplicate node id {node_id!r}")
        self.put(node)

    @classmethod
    def load(cls, path: str | Path) -> Workflow:
        file = Path(path)
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise DSLError(f"{file}: cannot read DSL: {exc}") from exc
        return cls.from_dsl(raw, source=file.name)
