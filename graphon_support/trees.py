"""Span trees of one run, in a form two engines' runs can be compared with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Attributes that identify a span's place in the run (what must agree between engines).
IDENTITY_ATTRS = (
    "flowscope.span.kind",
    "flowscope.node.id",
    "flowscope.node.type",
    "flowscope.iteration.index",
    "flowscope.loop.index",
)


@dataclass(frozen=True)
class SpanNode:
    name: str
    identity: tuple[tuple[str, Any], ...]
    children: tuple[SpanNode, ...]

    def lines(self, depth: int = 0) -> list[str]:
        out = ["  " * depth + self.name]
        for child in self.children:
            out.extend(child.lines(depth + 1))
        return out


def span_tree(spans: Sequence[Any], *, skip_kinds: frozenset[str] = frozenset()) -> SpanNode:
    """The tree of finished SDK spans (one trace, one root), children sorted by name/identity.

    Spans whose ``flowscope.span.kind`` is in ``skip_kinds`` are left out, their children lifted.
    """
    by_parent: dict[int | None, list[Any]] = {}
    ids = {s.context.span_id for s in spans}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        by_parent.setdefault(parent if parent in ids else None, []).append(span)
    roots = by_parent.get(None, [])
    if len(roots) != 1:
        raise AssertionError(f"expected one root span, got {[s.name for s in roots]}")

    def build(span: Any) -> list[SpanNode]:
        children = sorted(
            (c for kid in by_parent.get(span.context.span_id, []) for c in build(kid)),
            key=lambda n: (n.name, n.identity),
        )
        attrs = span.attributes or {}
        if attrs.get("flowscope.span.kind") in skip_kinds:
            return children
        identity = tuple((k, attrs[k]) for k in IDENTITY_ATTRS if k in attrs)
        return [SpanNode(span.name, identity, tuple(children))]

    (root,) = build(roots[0])
    return root
