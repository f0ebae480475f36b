"""The node API: one :class:`Node` subclass per Dify node type, registered by type name.

A node is built from its :class:`~workflow_core.dsl.NodeSpec`; its ``data`` is parsed once into
the subclass's pydantic ``data_model``. ``validate()`` adds cross-field checks; ``run(ctx)`` reads
inputs from the run context and returns a :class:`NodeOutcome`. Error strategies, retries,
timeouts and output bookkeeping belong to the runner, not to nodes. See docs/workflow_core.md
("Node API").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflow_core.errors import DSLError, NodeError
from workflow_core.variables import Selector, template_selectors

if TYPE_CHECKING:
    from workflow_core.context import RunContext
    from workflow_core.dsl import NodeSpec


class RetryConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    retry_enabled: bool = False
    max_retries: int = Field(default=0, ge=0, le=10)
    retry_interval: int = Field(default=0, ge=0, le=60_000)  # milliseconds


class DefaultValue(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str
    type: str = "string"
    value: Any = None


class NodeData(BaseModel):
    """Fields common to every node's ``data`` (SPEC §1.1, §6). Unknown fields are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str
    title: str = ""
    desc: str = ""
    error_strategy: Literal["fail-branch", "default-value", "none"] | None = None
    default_value: list[DefaultValue] = Field(default_factory=list)
    retry_config: RetryConfig = Field(default_factory=RetryConfig)


@dataclass(frozen=True)
class NodeOutcome:
    """What a node produced: outputs written as ``[node_id, key]``, and the branch handle taken."""

    outputs: dict[str, Any] = field(default_factory=dict)
    handle: str = "source"
    #: Resolved inputs, for run logs and listeners (never secrets).
    inputs: dict[str, Any] = field(default_factory=dict)


D = TypeVar("D", bound=NodeData)


class Node(Generic[D]):
    """Base class of every node type. Subclasses set ``data_model`` and implement ``run``."""

    node_type: ClassVar[str] = ""
    #: SPEC §6: only llm, code, http-request and tool honour ``retry_config``.
    retryable: ClassVar[bool] = False
    #: Containers (iteration, loop) run child nodes; the runner exempts them from node timeouts.
    is_container: ClassVar[bool] = False
    #: Writes variables in place (conversation / loop variables): the runner never runs it
    #: concurrently with other nodes, so parallel and sequential runs stay identical.
    writes_shared_state: ClassVar[bool] = False
    #: Answer nodes: the runner appends ``outputs["answer"]`` to the chat reply on commit.
    streams_answer: ClassVar[bool] = False
    data_model: type[D]

    def __init__(self, spec: NodeSpec, *, source: str = "<memory>") -> None:
        self.spec = spec
        self.source = source
        try:
            self.config: D = self.data_model.model_validate(spec.data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "data"
            raise self.dsl_error(where, f"{err['msg']} (got {err.get('input')!r})") from exc

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def title(self) -> str:
        return self.spec.title

    def dsl_error(self, field_name: str, message: str) -> DSLError:
        """A validation error naming file, node and field."""
        return DSLError(
            f"{self.source}: node {self.id} ({self.type}): field '{field_name}': {message}"
        )

    def node_error(self, message: str) -> NodeError:
        """A run-time failure of this node."""
        return NodeError(self.id, self.type, message)

    def timeout_seconds(self, default: float | None) -> float | None:
        """Per-node timeout: a numeric ``data.timeout`` (seconds) wins over the run default;
        containers only have one when set explicitly."""
        value = self.spec.data.get("timeout")
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        return None if self.is_container else default

    def validate(self) -> None:
        """Cross-field checks beyond the data model; raise :meth:`dsl_error`."""

    def selectors(self) -> Iterator[tuple[str, Selector]]:
        """Every ``(field, selector)`` this node reads, for validation of references.

        The default walks ``data``: list values of keys ending in ``selector`` and ``{{#...#}}``
        references in strings. Nodes whose selectors hide elsewhere override it.
        """
        yield from _scan(self.spec.data, "")

    def run(self, ctx: RunContext) -> NodeOutcome:
        raise NotImplementedError(f"node type {self.type} does not implement run()")


def _scan(value: Any, path: str) -> Iterator[tuple[str, Selector]]:
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if (
                str(key).endswith("selector")
                and isinstance(item, list)
                and len(item) >= 2
                and all(isinstance(p, str) for p in item)
            ):
                yield sub, tuple(item)
            else:
                yield from _scan(item, sub)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _scan(item, f"{path}[{index}]")
    elif isinstance(value, str) and "{{#" in value:
        for selector in template_selectors(value):
            yield path, selector


_REGISTRY: dict[str, type[Node[Any]]] = {}

N = TypeVar("N", bound=type[Node[Any]])


def register(node_type: str) -> Callable[[N], N]:
    """Class decorator: ``@register("llm")`` makes the class run nodes of that type."""

    def decorate(cls: N) -> N:
        if node_type in _REGISTRY and _REGISTRY[node_type] is not cls:
            raise ValueError(f"node type {node_type!r} is already registered")
        cls.node_type = node_type
        _REGISTRY[node_type] = cls
        return cls

    return decorate


def node_class(node_type: str) -> type[Node[Any]] | None:
    return _REGISTRY.get(node_type)


def registered_types() -> frozenset[str]:
    return frozenset(_REGISTRY)
