"""The vocabulary of targets: what one instrumented method is, and what a call passes down.

A target *set* covers one instrumented library (``workflow_core``, Dify's ``graphon`` …) with the
version window it was written for. Each :class:`Target` names a method as a dotted string and
carries plain functions that read attributes from the call; :mod:`probe._wrappers` does the rest.
A new library is one module ``probe/targets_<library>.py`` exposing ``TARGET_SET`` (or an entry
point in the ``flowscope.probe_targets`` group): nothing else in the probe changes.

Hot-path rule: ``enter`` runs for every call, sampled or not, so it only reads a few attributes;
everything else (``describe``, ``finish``) runs only for kept spans.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.util.types import AttributeValue

from probe import semconv
from probe.errors import TargetError
from probe.redaction import Redactor

Attributes = dict[str, AttributeValue]
Args = tuple[Any, ...]
Kwargs = dict[str, Any]

_KINDS = frozenset(
    {
        semconv.KIND_WORKFLOW,
        semconv.KIND_NODE,
        semconv.KIND_LLM,
        semconv.KIND_RETRIEVAL,
        semconv.KIND_EMBEDDING,
        semconv.KIND_HTTP,
        semconv.KIND_TOOL,
        semconv.KIND_CODE,
        semconv.KIND_ITERATION,
        semconv.KIND_LOOP,
        semconv.KIND_BRANCH,
        semconv.KIND_TRIGGER,
    }
)


class Run:
    """One workflow run: the trace it belongs to and the attributes every span of it carries."""

    __slots__ = ("_synthetic", "attrs", "has_external_parent", "trace_id", "workflow")

    def __init__(
        self,
        trace_id: int,
        workflow: str | None,
        attrs: Attributes,
        external: Context | None = None,
    ) -> None:
        self.trace_id = trace_id
        self.workflow = workflow
        self.attrs = attrs
        # The context of a span outside the probe this run is nested in (a server request span).
        self._synthetic: Context | None = external
        self.has_external_parent = external is not None

    def detached_parent(self) -> Context:
        """Parent context for a kept span whose run root was sampled out.

        It carries the run's trace id, so kept spans of a dropped run still share one trace.
        """
        if self._synthetic is None:
            span_context = SpanContext(
                trace_id=self.trace_id,
                span_id=random.getrandbits(64) or 1,
                is_remote=False,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
            self._synthetic = set_span_in_context(NonRecordingSpan(span_context))
        return self._synthetic


OwnAttrs = Callable[[Any], Attributes]


class Scope:
    """What one wrapped call passes to the calls nested in it (same thread or copied context).

    Built for every call, kept or not, so construction is minimal; attributes for descendants
    are computed only when a kept descendant asks (:meth:`inherited`).
    """

    __slots__ = (
        "_chain",
        "_own_fn",
        "_own_src",
        "node_type",
        "parent",
        "run",
        "sampled",
        "span",
        "trace_id",
        "workflow",
    )

    def __init__(
        self,
        parent: Scope | None,
        run: Run | None,
        node_type: str | None,
        own_fn: OwnAttrs | None = None,
        own_src: Any = None,
    ) -> None:
        self.parent = parent
        self.run = run
        self.node_type = node_type
        self.sampled = False
        self.span: Span | None = None
        self._chain: Attributes | None = None
        self._own_fn = own_fn
        self._own_src = own_src
        if run is not None:
            self.workflow: str | None = run.workflow
            self.trace_id: int = run.trace_id
        else:  # a call outside any workflow run: its own trace
            self.workflow = None
            self.trace_id = random.getrandbits(128) or 1

    def own(self) -> Attributes:
        """Attributes this call hands down (node identity, round index …), computed lazily."""
        if self._own_fn is None:
            return {}
        return self._own_fn(self._own_src)

    def inherited(self) -> Attributes:
        """Run attributes plus every enclosing call's own attributes, innermost last (a new
        dict, the caller's to change)."""
        chain = self._chain
        if chain is None:
            chain = self.chain()
        run = self.run
        return {**run.attrs, **chain} if run is not None else dict(chain)

    def chain(self) -> Attributes:
        """The own attributes of this call and its enclosing ones (cached; never mutated, so
        a scope without own attributes shares its parent's dict)."""
        chain = self._chain
        if chain is None:
            parent = self.parent
            if parent is None:
                chain = {}
            else:
                chain = parent._chain
                if chain is None:
                    chain = parent.chain()
            if self._own_fn is not None:
                chain = {**chain, **self._own_fn(self._own_src)}
            self._chain = chain
        return chain

    def kept_ancestor(self) -> Scope | None:
        """Nearest enclosing scope whose span was kept."""
        scope = self.parent
        while scope is not None and not scope.sampled:
            scope = scope.parent
        return scope


# Returns the call's scope, whose ``parent`` is the scope it was given.
Enter = Callable[[Scope | None, Any, Args, Kwargs], Scope]
# ``Redactor | None``: None when content capture is switched off.
Describe = Callable[[Scope, Any, Args, Kwargs, "Redactor | None"], tuple[str, Attributes]]
Finish = Callable[[Scope, Any, Args, Kwargs, Any, "Redactor | None"], Attributes]
Observe = Callable[[Scope, Any, Args, Kwargs, Any], None]
Prepare = Callable[[Any, Args, Kwargs], tuple[Args, Kwargs]]
Failed = Callable[[Any], bool]


def _no_attributes(
    scope: Scope, instance: Any, args: Args, kwargs: Kwargs, result: Any, capture: Redactor | None
) -> Attributes:
    return {}


@dataclass(frozen=True)
class Target:
    """One wrapped method and how to read its call.

    ``target`` is ``"package.module:Class.method"``; ``params`` are the parameter names after
    ``self`` the extractors were written for (a different signature is skipped with a warning).
    """

    target: str
    kind: str
    params: tuple[str, ...]
    enter: Enter
    # span name + start attributes, which include the scope's own ones (kept spans only): a
    # kept span gets the enclosing scopes' chain, these, then what ``finish`` returns
    describe: Describe
    finish: Finish = _no_attributes  # attributes from the result (kept spans only)
    observe: Observe | None = None  # every call, kept or not (usage accounting)
    prepare: Prepare | None = None  # rewrite arguments inside the span (header injection)
    failed: Failed | None = None  # a returned result that counts as an error
    # … or whose ``status`` attribute is one of these (tested inline, no call)
    failed_statuses: frozenset[str] = frozenset()
    critical: bool = False

    def __post_init__(self) -> None:
        module, sep, qualname = self.target.partition(":")
        if not sep or not module or "." not in qualname:
            raise TargetError(f"target {self.target!r}: expected 'package.module:Class.method'")
        if self.kind not in _KINDS:
            raise TargetError(
                f"target {self.target!r}: kind must be one of {sorted(_KINDS)}, got {self.kind!r}"
            )

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def owner_path(self) -> tuple[str, ...]:
        """Attribute path from the module to the class owning the method."""
        return tuple(self.target.partition(":")[2].split(".")[:-1])

    @property
    def method(self) -> str:
        return self.target.rpartition(".")[2]


@dataclass(frozen=True)
class TargetSet:
    """The targets for one instrumented library and the versions they were written for."""

    library: str  # top-level import name whose ``__version__`` is checked
    supported: str  # PEP 440 specifier, e.g. ">=0.1,<0.2"
    targets: Sequence[Target]
    distribution: str | None = None  # read the version from this distribution's metadata instead
    description: str = ""
