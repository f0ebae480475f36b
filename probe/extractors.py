"""Attribute extractors for workflow_core's seams (docs/contracts.md), one group per span kind.

Every function reads the call defensively (``getattr`` with defaults) so a changed object shape
degrades to fewer attributes instead of an error. ``enter_*`` run on every call and stay cheap;
``describe_*`` / ``finish_*`` run for kept spans only.
"""

from __future__ import annotations

import dataclasses
import importlib
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import trace
from opentelemetry.propagate import extract, inject

from probe import guard, semconv
from probe.redaction import Redactor
from probe.spec import Args, Attributes, Kwargs, Run, Scope

#: The llm node's prompt template (contract: docs/contracts.md); kept here, next to its only
#: writer, rather than in ``semconv``.
PROMPT_TEMPLATE = "flowscope.prompt.template"

#: Retrieval spans of sharded KBs (contract: docs/contracts.md): every failed shard attempt, and
#: the shards that contributed nothing after retries and fallback.
SHARD_ERRORS = "flowscope.retrieval.shard_errors"
SHARDS_LOST = "flowscope.retrieval.shards_lost"

# -- argument access --------------------------------------------------------------------------


def arg(args: Args, kwargs: Kwargs, index: int, name: str, default: Any = None) -> Any:
    """The call's argument ``name`` (positional ``index`` after self), or ``default``."""
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _parent_run(parent: Scope | None) -> Run | None:
    return parent.run if parent is not None else None


def _child_scope(parent: Scope | None, own: Callable[[Any], Attributes] | None, src: Any) -> Scope:
    """A scope that keeps its parent's run and node type (calls made inside a node)."""
    if parent is None:
        return Scope(None, None, None, own, src)
    return Scope(parent, parent.run, parent.node_type, own, src)


def _node_src(scope: Scope) -> tuple[Any, Any]:
    """``(NodeSpec, RunContext)`` of the innermost node execution around ``scope``."""
    current: Scope | None = scope
    while current is not None:
        if current._own_fn is _node_own:
            node, ctx = current._own_src
            return node, ctx
        current = current.parent
    return None, None


def _node_ctx(scope: Scope) -> Any:
    """The RunContext of the innermost node execution around ``scope``."""
    return _node_src(scope)[1]


# -- workflow run (root) ----------------------------------------------------------------------


def enter_workflow(parent: Scope | None, instance: Any, args: Args, kwargs: Kwargs) -> Scope:
    app = getattr(instance, "app", None)
    name = _text(getattr(app, "name", None)) or None
    attrs: Attributes = {}
    if name:
        attrs[semconv.WORKFLOW_NAME] = name
    if app_id := getattr(app, "app_id", None):
        attrs[semconv.WORKFLOW_ID] = _text(app_id)
    if mode := getattr(app, "mode", None):
        attrs[semconv.WORKFLOW_MODE] = _text(mode)
    if parent is not None and parent.run is not None:
        run = Run(parent.run.trace_id, name, attrs)
    else:
        external = trace.get_current_span().get_span_context()
        if external.is_valid:
            run = Run(
                external.trace_id, name, attrs, trace.set_span_in_context(trace.get_current_span())
            )
        else:
            run = Run(random.getrandbits(128) or 1, name, attrs)
    return Scope(parent, run, None)


def describe_workflow(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    name = scope.workflow or "workflow"
    attrs: Attributes = {}
    if capture is not None:
        inputs = arg(args, kwargs, 0, "inputs")
        query = kwargs.get("query")
        payload = dict(inputs) if isinstance(inputs, dict) else {"inputs": inputs}
        if query is not None:
            payload["sys.query"] = query
        attrs[semconv.NODE_INPUTS] = capture.capture(payload)
    if (conversation := kwargs.get("conversation_id")) is not None:
        attrs["flowscope.conversation.id"] = _text(conversation)
    return f"invoke_workflow {name}", attrs


def finish_workflow(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, result: Any, capture: Redactor | None
) -> Attributes:
    attrs: Attributes = {}
    if run_id := getattr(result, "run_id", None):
        attrs[semconv.WORKFLOW_RUN_ID] = _text(run_id)
    status = _text(getattr(result, "status", ""))
    if status:
        attrs[semconv.WORKFLOW_STATUS] = status
    if capture is not None and (outputs := getattr(result, "outputs", None)) is not None:
        attrs[semconv.NODE_OUTPUTS] = capture.capture(outputs)
    if error := getattr(result, "error", None):
        attrs["flowscope.error.message"] = capture.scrub(_text(error)) if capture else "error"
    return attrs


# -- trigger delivery (root of an event's trace) -----------------------------------------------


def _trigger_own(src: Any) -> Attributes:
    attrs: Attributes = {}
    for key, name in (
        (semconv.TRIGGER_TYPE, "trigger_type"),
        (semconv.TRIGGER_ID, "trigger_id"),
        (semconv.TRIGGER_EVENT_ID, "id"),
    ):
        if value := getattr(src, name, None):
            attrs[key] = _text(value)
    return attrs


def enter_trigger(parent: Scope | None, instance: Any, args: Args, kwargs: Kwargs) -> Scope:
    """Continue the caller's trace from the W3C headers the delivery kept on the event."""
    event = arg(args, kwargs, 0, "event")
    headers = getattr(event, "headers", None)
    carrier = (
        {str(k).lower(): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
    )
    context = extract(carrier) if "traceparent" in carrier else None
    remote = trace.get_current_span(context).get_span_context() if context is not None else None
    current = trace.get_current_span()
    if remote is not None and remote.is_valid:
        run = Run(remote.trace_id, None, {}, context)
    elif parent is not None and parent.run is not None:
        run = Run(parent.run.trace_id, None, {})
    elif current.get_span_context().is_valid:  # a span of the host (a worker's own span)
        host = current.get_span_context().trace_id
        run = Run(host, None, {}, trace.set_span_in_context(current))
    else:
        run = Run(random.getrandbits(128) or 1, None, {})
    return Scope(parent, run, None, _trigger_own, event)


def describe_trigger(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    event = arg(args, kwargs, 0, "event")
    trigger_id = _text(getattr(event, "trigger_id", "")) or "trigger"
    attrs: Attributes = _trigger_own(event)
    if capture is not None and (payload := getattr(event, "payload", None)) is not None:
        attrs[semconv.NODE_INPUTS] = capture.capture(payload)
    return f"trigger {trigger_id}", attrs


def finish_trigger(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, result: Any, capture: Redactor | None
) -> Attributes:
    attrs: Attributes = {}
    if run_id := getattr(result, "run_id", None):
        attrs[semconv.WORKFLOW_RUN_ID] = _text(run_id)
    if status := getattr(result, "status", None):
        attrs[semconv.WORKFLOW_STATUS] = _text(status)
    if error := getattr(result, "error", None):
        attrs["flowscope.error.message"] = capture.scrub(_text(error)) if capture else "error"
    return attrs


def trigger_failed(result: Any) -> bool:
    return getattr(result, "ok", True) is False


# -- node execution ---------------------------------------------------------------------------


def _node_own(src: Any) -> Attributes:
    node = src[0]
    facts = _NODE_FACTS.get(id(node))
    if facts is not None and facts[0] is node:
        return facts[2]
    return _node_identity(node)


def _node_identity(node: Any) -> Attributes:
    return {
        semconv.NODE_ID: _text(getattr(node, "id", "")),
        semconv.NODE_TYPE: _text(getattr(node, "type", "")),
        semconv.NODE_TITLE: _text(getattr(node, "title", "")),
    }


# What a kept node span needs from the node's spec — span name, start attributes, identity —
# worked out once per spec object (specs are immutable and live as long as their app), keyed by
# id() and checked by identity (the entry holds the spec, so its id is not reused). Bounded.
_NODE_FACTS: dict[int, tuple[Any, tuple[str, Attributes], Attributes]] = {}
_NODE_FACTS_MAX = 4096


def _node_facts(instance: Any, node: Any) -> tuple[Any, tuple[str, Attributes], Attributes]:
    facts = _NODE_FACTS.get(id(node))
    if facts is not None and facts[0] is node:
        return facts
    attrs: Attributes = {}
    if strategy := _error_strategy(instance, node):
        attrs[semconv.ERROR_STRATEGY] = strategy
    node_type = _text(getattr(node, "type", "")) or "node"
    title = _text(getattr(node, "title", "")) or _text(getattr(node, "id", ""))
    identity = _node_identity(node)  # the scope's own attributes: describe returns them too
    facts = (node, (f"{node_type} {title}", {**identity, **attrs}), identity)
    if len(_NODE_FACTS) >= _NODE_FACTS_MAX:
        _NODE_FACTS.clear()
    _NODE_FACTS[id(node)] = facts
    return facts


class NodeScope(Scope):
    """The scope of one node execution; the class itself is the target's ``enter`` hook.

    It runs for every node call, kept or not, so it sets the fields itself: one Python call
    instead of an ``enter`` function calling ``Scope``.
    """

    __slots__ = ()

    def __init__(self, parent: Scope | None, instance: Any, args: Args, kwargs: Kwargs) -> None:
        src = (
            args if len(args) == 2 else (arg(args, kwargs, 0, "node"), arg(args, kwargs, 1, "ctx"))
        )
        run = parent.run if parent is not None else None
        self.parent = parent
        self.run = run
        self.node_type = src[0].type
        self.sampled = False
        self.span = None
        self._chain = None
        self._own_fn = _node_own
        self._own_src = src
        if run is not None:
            self.workflow = run.workflow
            self.trace_id = run.trace_id
        else:  # a call outside any workflow run: its own trace
            self.workflow = None
            self.trace_id = random.getrandbits(128) or 1


enter_node = NodeScope


def _note_run_id(scope: Scope) -> None:
    """Record the run id (known from the node's RunContext) on the run, for every kept span.

    Done on the kept path only: the drop path must stay minimal.
    """
    run = scope.run
    if run is not None and semconv.WORKFLOW_RUN_ID not in run.attrs:
        run_id = getattr(_node_ctx(scope), "run_id", None)
        if run_id:
            run.attrs[semconv.WORKFLOW_RUN_ID] = _text(run_id)


def _error_strategy(instance: Any, node: Any) -> str | None:
    graph_nodes = getattr(getattr(instance, "graph", None), "nodes", None)
    configured = (
        graph_nodes.get(getattr(node, "id", None)) if isinstance(graph_nodes, dict) else None
    )
    config = getattr(configured, "config", None)
    strategy = getattr(config, "error_strategy", None)
    if strategy is None:
        data = getattr(node, "data", None)
        strategy = data.get("error_strategy") if isinstance(data, dict) else None
    return _text(strategy) or None


_RUN_ID_KEY = semconv.WORKFLOW_RUN_ID


def describe_node(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    run = scope.run
    if run is not None and _RUN_ID_KEY not in run.attrs:
        _note_run_id(scope)
    node = args[0] if args else kwargs.get("node")
    facts = _NODE_FACTS.get(id(node))
    if facts is None or facts[0] is not node:
        facts = _node_facts(instance, node)
    return facts[1]  # (name, attributes), shared: callers only read them


_RETRY_KEY, _STATUS_KEY = semconv.RETRY_ATTEMPT, semconv.NODE_STATUS
_INPUTS_KEY, _OUTPUTS_KEY = semconv.NODE_INPUTS, semconv.NODE_OUTPUTS


def finish_node(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, result: Any, capture: Redactor | None
) -> Attributes:
    try:  # workflow_core's NodeResult: plain attribute reads
        status, attempts = result.status, result.attempts
        inputs, outputs, error = result.inputs, result.outputs, result.error
    except AttributeError:  # another result type: read what it has
        status, attempts = getattr(result, "status", None), getattr(result, "attempts", 1)
        inputs, outputs = getattr(result, "inputs", None), getattr(result, "outputs", None)
        error = getattr(result, "error", None)
    if type(attempts) is not int or not attempts:
        attempts = int(attempts or 1)
    attrs: Attributes
    if capture is not None:
        inputs, outputs = capture.capture_pair(inputs or {}, outputs or {})
        attrs = {_RETRY_KEY: attempts, _INPUTS_KEY: inputs, _OUTPUTS_KEY: outputs}
    else:
        attrs = {_RETRY_KEY: attempts}
    if type(status) is not str:
        status = "" if status is None else str(status)
    if status:
        attrs[_STATUS_KEY] = status
        if status == "exception":
            attrs[semconv.ERROR_STRATEGY_OUTCOME] = "handled"
        elif status == "failed" and _error_strategy(instance, arg(args, kwargs, 0, "node")):
            attrs[semconv.ERROR_STRATEGY_OUTCOME] = "failed"
    if error:
        attrs["flowscope.error.message"] = capture.scrub(_text(error)) if capture else "error"
    return attrs


# -- rounds of iteration / loop nodes ---------------------------------------------------------


def _iteration_own(src: Any) -> Attributes:
    return {semconv.ITERATION_INDEX: int(src)}


def _loop_own(src: Any) -> Attributes:
    return {semconv.LOOP_INDEX: int(src)}


def enter_iteration(parent: Scope | None, instance: Any, args: Args, kwargs: Kwargs) -> Scope:
    return _child_scope(parent, _iteration_own, arg(args, kwargs, 0, "index", 0))


def enter_loop(parent: Scope | None, instance: Any, args: Args, kwargs: Kwargs) -> Scope:
    return _child_scope(parent, _loop_own, arg(args, kwargs, 0, "index", 0))


def describe_iteration(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    _note_run_id(scope)
    index = int(arg(args, kwargs, 0, "index", 0))
    return f"iteration[{index}]", {semconv.ITERATION_INDEX: index}


def describe_loop(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    _note_run_id(scope)
    index = int(arg(args, kwargs, 0, "index", 0))
    return f"loop[{index}]", {semconv.LOOP_INDEX: index}


# -- calls made inside a node: llm, retrieval, embedding, http, tool, code ---------------------


def enter_call(parent: Scope | None, instance: Any, args: Args, kwargs: Kwargs) -> Scope:
    return _child_scope(parent, None, None)


def describe_llm(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    _note_run_id(scope)
    request = arg(args, kwargs, 0, "request")
    model = _text(getattr(request, "model", "")) or "unknown"
    provider = _text(getattr(request, "provider", "")) or _text(
        getattr(instance, "provider_name", "")
    )
    attrs: Attributes = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: model,
        semconv.GEN_AI_PROVIDER_NAME: provider or "unknown",
    }
    node, ctx = _node_src(scope)
    if ctx is not None and (attempt := getattr(ctx, "attempt", None)):
        attrs[semconv.RETRY_ATTEMPT] = int(attempt)
    if capture is not None and (template := prompt_template(node)):
        attrs[PROMPT_TEMPLATE] = capture.truncate(capture.scrub(template))
    return f"chat {model}", attrs


def _template_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    key = "jinja2_text" if message.get("edition_type") == "jinja2" else "text"
    text = _text(message.get(key))
    return f"[{_text(message.get('role')) or 'user'}]\n{text}" if text else ""


def prompt_template(node: Any) -> str:
    """The llm node's prompt template as declared in the DSL (before variables are rendered):
    one ``[role]`` block per message, plus the memory query template; ``""`` for other nodes.

    Recorded instead of the rendered prompt so a prompt *version* changes when the template
    changes, not with every input.
    """
    data = getattr(node, "data", None)
    if getattr(node, "type", None) != "llm" or not isinstance(data, dict):
        return ""
    messages = data.get("prompt_template")
    if isinstance(messages, dict):  # completion mode: one text prompt
        messages = [messages]
    blocks = [_template_text(m) for m in messages] if isinstance(messages, list) else []
    memory = data.get("memory")
    if isinstance(memory, dict) and (query := _text(memory.get("query_prompt_template"))):
        blocks.append(f"[memory query]\n{query}")
    return "\n\n".join(b for b in blocks if b)


def finish_llm(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, result: Any, capture: Redactor | None
) -> Attributes:
    usage = getattr(result, "usage", None)
    attrs: Attributes = {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: int(getattr(usage, "input_tokens", 0) or 0),
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: int(getattr(usage, "output_tokens", 0) or 0),
    }
    cached = int(getattr(usage, "cached_input_tokens", 0) or 0)
    if cached:
        attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    if model := _text(getattr(result, "model", "")):
        attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
    if reason := _text(getattr(result, "finish_reason", "")):
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = (reason,)
    return attrs


_usage_module: Any = None
_usage_module_loaded = False


def _usage_hook() -> Callable[..., None] | None:
    """``probe.sampling.usage.record_llm_usage`` when the sampling package provides it."""
    global _usage_module, _usage_module_loaded
    if not _usage_module_loaded:
        _usage_module_loaded = True
        try:
            _usage_module = importlib.import_module("probe.sampling.usage")
        except ImportError:
            _usage_module = None
    hook = getattr(_usage_module, "record_llm_usage", None)
    return hook if callable(hook) else None


def observe_llm(scope: Scope, instance: Any, args: Args, kwargs: Kwargs, result: Any) -> None:
    """Exact usage accounting: every LLM call, kept span or not."""
    hook = _usage_hook()
    if hook is None:
        return
    request = arg(args, kwargs, 0, "request")
    usage = getattr(result, "usage", None)
    ctx = _node_ctx(scope)
    node = getattr(ctx, "node_id", None) or getattr(request, "node_id", None)
    hook(
        workflow=scope.workflow,
        node_id=node,
        node_type=scope.node_type or getattr(request, "node_type", None),
        provider=_text(getattr(result, "provider", ""))
        or _text(getattr(instance, "provider_name", "")),
        model=_text(getattr(result, "model", "")) or _text(getattr(request, "model", "")),
        input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
        cached_input_tokens=int(getattr(usage, "cached_input_tokens", 0) or 0),
    )


def describe_retrieval(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    _note_run_id(scope)
    datasets = [_text(d) for d in (arg(args, kwargs, 4, "dataset_ids") or ())]
    attrs: Attributes = {
        semconv.RETRIEVAL_DATASETS: datasets,
        semconv.RETRIEVAL_TOP_K: int(arg(args, kwargs, 1, "top_k", 0) or 0),
    }
    if capture is not None:
        attrs[semconv.RETRIEVAL_QUERY] = capture.truncate(
            capture.scrub(_text(arg(args, kwargs, 0, "query")))
        )
    return f"retrieve {','.join(datasets) or 'knowledge'}", attrs


def finish_retrieval(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, result: Any, capture: Redactor | None
) -> Attributes:
    hits = list(result) if isinstance(result, list | tuple) else []
    attrs: Attributes = {
        semconv.RETRIEVAL_COUNT: len(hits),
        semconv.RETRIEVAL_SCORES: [float(getattr(h, "score", 0.0) or 0.0) for h in hits],
    }
    # A sharded KB's failures underneath (workflow_core.retrieval.base.SearchResult).
    errors = getattr(result, "shard_errors", None) or ()
    if errors:
        described = [_text(e.describe()) if hasattr(e, "describe") else _text(e) for e in errors]
        attrs[SHARD_ERRORS] = [capture.scrub(d) if capture else d for d in described]
    if lost := getattr(result, "shards_lost", None):
        attrs[SHARDS_LOST] = [_text(s) for s in lost]
    return attrs


def describe_embedding(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    _note_run_id(scope)
    model = _text(getattr(instance, "model_name", "")) or "unknown"
    texts = arg(args, kwargs, 0, "texts") or ()
    return f"embeddings {model}", {
        semconv.GEN_AI_OPERATION_NAME: "embeddings",
        semconv.GEN_AI_REQUEST_MODEL: model,
        semconv.EMBEDDING_COUNT: len(texts),
    }


def describe_tool(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    _note_run_id(scope)
    provider = _text(arg(args, kwargs, 0, "provider"))
    tool = _text(arg(args, kwargs, 1, "tool")) or "tool"
    attrs: Attributes = {
        semconv.GEN_AI_OPERATION_NAME: "execute_tool",
        semconv.GEN_AI_TOOL_NAME: tool,
        semconv.TOOL_PROVIDER: provider,
    }
    if capture is not None:
        attrs["flowscope.tool.params"] = capture.capture(arg(args, kwargs, 2, "params") or {})
    return f"execute_tool {tool}", attrs


def describe_code(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    _note_run_id(scope)
    return "execute_code", {semconv.CODE_LANGUAGE: _text(kwargs.get("language", ""))}


def safe_url(url: str) -> str:
    """``url`` without user info and query string (either may carry credentials)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def describe_http(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, capture: Redactor | None
) -> tuple[str, Attributes]:
    _note_run_id(scope)
    request = arg(args, kwargs, 0, "request")
    method = _text(getattr(request, "method", "")).upper() or "GET"
    return f"HTTP {method}", {
        semconv.HTTP_REQUEST_METHOD: method,
        semconv.URL_FULL: safe_url(_text(getattr(request, "url", ""))),
    }


def finish_http(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, result: Any, capture: Redactor | None
) -> Attributes:
    status = getattr(result, "status_code", None)
    return {semconv.HTTP_RESPONSE_STATUS_CODE: int(status)} if isinstance(status, int) else {}


def http_failed(result: Any) -> bool:
    status = getattr(result, "status_code", None)
    return isinstance(status, int) and status >= 500


def inject_traceparent(instance: Any, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    """Add W3C ``traceparent`` (and ``tracestate``) headers of the current span to the request."""
    request = arg(args, kwargs, 0, "request")
    headers = getattr(request, "headers", None)
    if not dataclasses.is_dataclass(request) or not isinstance(headers, tuple):
        guard.warn_once(
            "http (traceparent)",
            "flowscope probe: HttpClient.send request is not a dataclass with a headers tuple; "
            "traceparent is not injected",
        )
        return args, kwargs
    carrier: dict[str, str] = {}
    inject(carrier)
    if not carrier:
        return args, kwargs
    existing = {name.lower() for name, _ in headers}
    extra = tuple((k, v) for k, v in carrier.items() if k.lower() not in existing)
    if not extra:
        return args, kwargs
    updated = dataclasses.replace(request, headers=headers + extra)  # type: ignore[type-var]
    if args:
        return (updated, *args[1:]), kwargs
    return args, {**kwargs, "request": updated}
