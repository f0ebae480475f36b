"""What the probe wraps, as data: workflow_core's seams (docs/contracts.md) and target discovery.

Supported workflow_core versions: ``>=0.1,<0.2``. A change to one of these signatures in
workflow_core means updating this file in the same commit.

Other libraries plug in without touching this file: a module ``probe/targets_<library>.py``
exposing ``TARGET_SET`` (found by :func:`target_sets`), or a third-party distribution declaring
an entry point in the ``flowscope.probe_targets`` group that resolves to a ``TargetSet``.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from probe import extractors as x
from probe import guard, semconv
from probe.spec import Target, TargetSet

ENTRY_POINT_GROUP = "flowscope.probe_targets"

WORKFLOW_CORE = TargetSet(
    library="workflow_core",
    supported=">=0.1,<0.2",
    description="flowscope's own Dify-DSL workflow core",
    targets=(
        Target(
            "workflow_core.runner:WorkflowRunner.run",
            semconv.KIND_WORKFLOW,
            ("inputs", "query", "conversation_id", "files"),
            enter=x.enter_workflow,
            describe=x.describe_workflow,
            finish=x.finish_workflow,
            failed_statuses=frozenset({"failed"}),
        ),
        Target(
            "workflow_core.runner:WorkflowRunner.execute_node",
            semconv.KIND_NODE,
            ("node", "ctx"),
            enter=x.enter_node,
            describe=x.describe_node,
            finish=x.finish_node,
            failed_statuses=frozenset({"failed", "exception"}),
        ),
        Target(
            "workflow_core.providers.base:LLMClient.invoke",
            semconv.KIND_LLM,
            ("request",),
            enter=x.enter_call,
            describe=x.describe_llm,
            finish=x.finish_llm,
            observe=x.observe_llm,
        ),
        Target(
            "workflow_core.retrieval.base:Retriever.search",
            semconv.KIND_RETRIEVAL,
            ("query", "top_k", "score_threshold", "dataset_ids"),
            enter=x.enter_call,
            describe=x.describe_retrieval,
            finish=x.finish_retrieval,
        ),
        Target(
            "workflow_core.retrieval.base:Embedder.embed",
            semconv.KIND_EMBEDDING,
            ("texts",),
            enter=x.enter_call,
            describe=x.describe_embedding,
        ),
        Target(
            "workflow_core.http_client:HttpClient.send",
            semconv.KIND_HTTP,
            ("request",),
            enter=x.enter_call,
            describe=x.describe_http,
            finish=x.finish_http,
            prepare=x.inject_traceparent,
            failed=x.http_failed,
        ),
        Target(
            "workflow_core.tools.base:ToolRunner.invoke",
            semconv.KIND_TOOL,
            ("provider", "tool", "params"),
            enter=x.enter_call,
            describe=x.describe_tool,
        ),
        Target(
            "workflow_core.sandbox:CodeSandbox.execute",
            semconv.KIND_CODE,
            ("code", "inputs", "language"),
            enter=x.enter_call,
            describe=x.describe_code,
        ),
        Target(
            "workflow_core.nodes.iteration:IterationNode.run_round",
            semconv.KIND_ITERATION,
            ("index", "item", "ctx"),
            enter=x.enter_iteration,
            describe=x.describe_iteration,
        ),
        Target(
            "workflow_core.triggers.delivery:TriggerDelivery.deliver",
            semconv.KIND_TRIGGER,
            ("event",),
            enter=x.enter_trigger,
            describe=x.describe_trigger,
            finish=x.finish_trigger,
            failed=x.trigger_failed,
        ),
        Target(
            "workflow_core.nodes.loop:LoopNode.run_round",
            semconv.KIND_LOOP,
            ("index", "ctx"),
            enter=x.enter_loop,
            describe=x.describe_loop,
        ),
    ),
)


def target_sets() -> list[TargetSet]:
    """workflow_core's set, every ``probe.targets_*`` module's, and entry-point sets.

    Importing a ``targets_*`` module must not import the library it targets (names are strings).
    A module or entry point that fails to load is skipped with one warning.
    """
    import probe

    found = [WORKFLOW_CORE]
    for info in sorted(pkgutil.iter_modules(probe.__path__), key=lambda m: m.name):
        if not info.name.startswith("targets_"):
            continue
        name = f"probe.{info.name}"
        try:
            module = importlib.import_module(name)
            found.append(_as_target_set(name, getattr(module, "TARGET_SET", None)))
        except Exception as exc:
            guard.report(f"{name} (target set)", exc)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append(_as_target_set(ep.value, ep.load()))
        except Exception as exc:
            guard.report(f"{ep.value} (target set)", exc)
    return found


def _as_target_set(where: str, value: object) -> TargetSet:
    if not isinstance(value, TargetSet):
        raise TypeError(f"{where}: TARGET_SET must be a probe.spec.TargetSet, got {value!r}")
    return value
