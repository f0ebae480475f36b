"""Load a Dify DSL file into a graphon ``Engine`` that runs offline, and run it.

``graphon.dsl.loads`` builds LLM nodes on the Slim plugin daemon and code nodes on a dify-sandbox
service. Offline we keep everything else of graphon's importer (``graphon.dsl.inspect``: parsing,
normalisation, the supported-node check; ``Graph.init``; ``Engine``) and swap only those two
runtimes, through graphon's own integration seams (``LLMProtocol``, ``CodeExecutorProtocol``):

* LLM, question-classifier and parameter-extractor nodes get :class:`SimulatedLLM` over
  workflow_core's deterministic simulated provider (same answers as the core);
* code nodes run in workflow_core's sandbox.

The host identity (Dify's ``sys.app_id``, ``sys.workflow_id``, ``sys.workflow_run_id``) travels in
graphon's ``run_context``, as Dify passes it; ``app_name`` / ``app_mode`` are added there so an
instrumentation can name the run like the core does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from graphon.dsl import LoadStatus, SlimDslNodeFactory, inspect
from graphon.dsl.entities import DslCredentials, DslRuntimeVariables
from graphon.engine import Engine
from graphon.engine_events.graph import (
    GraphRunFailedEvent,
    GraphRunPartialSucceededEvent,
    GraphRunSucceededEvent,
)
from graphon.engine_events.node import NodeRunSucceededEvent
from graphon.enums import BuiltinNodeTypes
from graphon.graph.graph import Graph
from graphon.nodes.base.node import Node
from graphon.nodes.code.code_node import CodeNode
from graphon.nodes.code.entities import CodeNodeData
from graphon.nodes.code.limits import CodeNodeLimits
from graphon.runtime.init_params import InitParams
from graphon.runtime.runtime_state import RuntimeState
from graphon.runtime.variable_pool import VariablePool

from graphon_support.code_executor import SandboxCodeExecutor
from graphon_support.errors import UnsupportedOnGraphon
from graphon_support.simulated_llm import SimulatedLLM
from workflow_core.dsl import DifyApp, load_app
from workflow_core.providers.base import LLMClient


def default_llm_client() -> LLMClient:
    """workflow_core's simulated provider, with no added latency."""
    from workflow_core.providers.simulated import SimulatedLLM as CoreSimulatedLLM

    return CoreSimulatedLLM(latency_ms=0)


@dataclass(slots=True)
class OfflineNodeFactory(SlimDslNodeFactory):
    """graphon's DSL node factory with the simulated LLM and the local sandbox plugged in."""

    llm_client: LLMClient | None = None

    def _resolve_slim_llm_settings(
        self, *, node_id: str, data: Mapping[str, Any], node_type_label: str
    ) -> tuple[dict[str, Any], str, str, dict[str, Any]]:
        # No plugin daemon offline: every model provider resolves, with no credentials.
        _ = node_type_label
        normalized = dict(data)
        model = dict(normalized.get("model") or {})
        vendor = str(model.get("provider") or "").rstrip("/").rsplit("/", 1)[-1]
        if not vendor:
            raise UnsupportedOnGraphon(f"node {node_id}: model.provider is empty")
        model["provider"] = vendor
        normalized["model"] = model
        return normalized, vendor, f"offline/{vendor}", {}

    def _create_slim_llm_runtime(
        self, *, node_id: str, data: Mapping[str, Any], node_type_label: str
    ) -> tuple[dict[str, Any], Any]:
        normalized, vendor, _plugin, _creds = self._resolve_slim_llm_settings(
            node_id=node_id, data=data, node_type_label=node_type_label
        )
        model = normalized["model"]
        runtime = SimulatedLLM(
            client=self.llm_client or default_llm_client(),
            provider=vendor,
            model_name=str(model.get("name") or ""),
            parameters=model.get("completion_params") or {},
            node_id=node_id,
            node_type=str(normalized.get("type") or ""),
        )
        return normalized, runtime

    def _create_sandboxed_code_node(self, request: Any) -> CodeNode:
        settings = self.credentials.code
        return CodeNode(
            node_id=request.node_id,
            data=CodeNodeData.model_validate(request.data_payload),
            init_params=self.init_params,
            runtime_state=self.runtime_state,
            code_executor=SandboxCodeExecutor(),
            code_limits=CodeNodeLimits(
                max_string_length=settings.max_string_length,
                max_number=settings.max_number,
                min_number=settings.min_number,
                max_precision=settings.max_precision,
                max_depth=settings.max_depth,
                max_number_array_length=settings.max_number_array_length,
                max_string_array_length=settings.max_string_array_length,
                max_object_array_length=settings.max_object_array_length,
            ),
        )

    NODE_BUILDERS: ClassVar[Mapping[Any, Callable[[Any, Any], Node]]] = {
        **SlimDslNodeFactory.NODE_BUILDERS,
        BuiltinNodeTypes.CODE: _create_sandboxed_code_node,
    }


@dataclass(frozen=True, slots=True)
class GraphonRun:
    """The outcome of one graphon run, in the terms the comparison needs."""

    status: str  # "succeeded" | "partial-succeeded" | "failed"
    outputs: dict[str, Any]
    error: str | None
    executed_nodes: tuple[str, ...]  # node ids, in completion order
    duration_s: float
    events: list[Any] = field(default_factory=list, repr=False)


def load_engine(
    path: str | Path,
    inputs: Mapping[str, Any] | None = None,
    *,
    query: str | None = None,
    llm_client: LLMClient | None = None,
    workers: int = 5,
    run_id: str | None = None,
    app: DifyApp | None = None,
) -> Engine:
    """Build a ready-to-run graphon ``Engine`` for the DSL file at ``path``.

    Raises:
        UnsupportedOnGraphon: graphon 0.8 cannot load this file (node type or app mode).
    """
    path = Path(path)
    app = app or load_app(path, validate=False)
    plan = inspect(path.read_text(encoding="utf-8"))
    if plan.load_status != LoadStatus.LOADABLE or plan.document.graph_config is None:
        raise UnsupportedOnGraphon(f"{path.name}: {plan.load_reason or 'not loadable'}")
    graph_config = plan.document.graph_config
    root_id = next(n.id for n in app.nodes if n.type == "start")
    run_context: dict[str, Any] = {
        "app_id": app.app_id,
        "app_name": app.name,
        "app_mode": app.mode,
        "workflow_id": app.app_id,
        "workflow_run_id": run_id or str(uuid.uuid4()),
        "user_id": "flowscope-offline",
    }
    pool = _variable_pool(
        plan.document.runtime_variables, root_id, run_context, inputs or {}, query, app.mode
    )
    init_params = InitParams(
        workflow_id=app.app_id, graph_config=graph_config, run_context=run_context, call_depth=0
    )
    state = RuntimeState(variable_pool=pool, start_at=time.time(), workflow_id=app.app_id)
    factory = OfflineNodeFactory(
        graph_config=graph_config,
        init_params=init_params,
        runtime_state=state,
        credentials=DslCredentials(),
        dependencies=list(plan.dependencies),
        llm_client=llm_client or default_llm_client(),
    )
    graph = Graph.init(graph_config=graph_config, node_factory=factory, root_node_id=root_id)
    return Engine(graph=graph, runtime_state=state, workers=workers)


def _variable_pool(
    runtime_variables: DslRuntimeVariables,
    root_id: str,
    run_context: Mapping[str, Any],
    inputs: Mapping[str, Any],
    query: str | None,
    mode: str,
) -> VariablePool:
    pool = VariablePool()
    for namespace, variables in (
        ("env", runtime_variables.environment_variables),
        ("conversation", runtime_variables.conversation_variables),
    ):
        for variable in variables:
            pool.add((namespace, variable.name), variable.value)
    for key, value in run_context.items():
        pool.add(("sys", key), value)
    if mode == "advanced-chat":
        pool.add(("sys", "query"), query or "")
        pool.add(("sys", "files"), [])
        pool.add(("sys", "conversation_id"), str(uuid.uuid4()))
        pool.add(("sys", "dialogue_count"), 1)
    for key, value in inputs.items():
        pool.add((root_id, key), value)
    return pool


def run_engine(engine: Engine, *, keep_events: bool = False) -> GraphonRun:
    """Drive ``engine`` to completion and summarise the run."""
    started = time.perf_counter()
    events: list[Any] = []
    executed: list[str] = []
    status, error, outputs = "failed", None, {}
    try:
        for event in engine.run():
            if keep_events:
                events.append(event)
            if isinstance(event, NodeRunSucceededEvent):
                executed.append(event.node_id)
            elif isinstance(event, GraphRunSucceededEvent):
                status, outputs = "succeeded", dict(event.outputs)
            elif isinstance(event, GraphRunPartialSucceededEvent):
                status, outputs = "partial-succeeded", dict(event.outputs)
            elif isinstance(event, GraphRunFailedEvent):
                status, error = "failed", event.error
    except Exception as exc:  # graphon re-raises the run error after GraphRunFailedEvent
        error = error or f"{type(exc).__name__}: {exc}"
    return GraphonRun(
        status=status,
        outputs=outputs,
        error=error,
        executed_nodes=tuple(executed),
        duration_s=time.perf_counter() - started,
        events=events,
    )


def run_file(
    path: str | Path,
    inputs: Mapping[str, Any] | None = None,
    *,
    query: str | None = None,
    llm_client: LLMClient | None = None,
    keep_events: bool = False,
) -> GraphonRun:
    """Load and run one DSL file on graphon, offline."""
    engine = load_engine(path, inputs, query=query, llm_client=llm_client)
    return run_engine(engine, keep_events=keep_events)


def plain(value: Any) -> Any:
    """graphon output values (segments, files) as plain JSON-able Python objects."""
    if hasattr(value, "to_object"):
        return plain(value.to_object())
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="json"))
    return value
