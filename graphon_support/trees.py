"""Span trees of one run, in a form two engines' runs can be compared with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Attributes that identify a span's place in the run (what must agree between engines).
IDENTITY_ATTRS = (
    "flowscope.span.kind",
    "flowscope.node.id",
    "flowscope.node.type",
    "flowscope.node.title",
    "flowscope.iteration.index",
    "flowscope.loop.index",
)


@dataclass(frozen=True)
class SpanRecord:
    span_id: str
    parent_id: str | None
    name: str
    attributes: Mapping[str, Any]


def from_sdk(spans: Iterable[Any]) -> list[SpanRecord]:
    """Records of finished OpenTelemetry SDK spans (``InMemorySpanExporter``)."""
    return [
        SpanRecord(
            f"{s.context.span_id:016x}",
            f"{s.parent.span_id:016x}" if s.parent is not None else None,
            s.name,
            dict(s.attributes or {}),
        )
        for s in spans
    ]


def from_api(trace: Mapping[str, Any]) -> list[SpanRecord]:
    """Records of a ``GET /api/traces/{trace_id}`` answer of the collector."""
    return [
        SpanRecord(s["span_id"], s.get("parent_span_id") or None, s["name"], s["attributes"])
        for s in trace["spans"]
    ]


@dataclass(frozen=True)
class SpanNode:
    name: str
    identity: tuple[tuple[str, str], ...]
    children: tuple[SpanNode, ...]

    def lines(self, depth: int = 0) -> list[str]:
        out = ["  " * depth + self.name]
        for child in self.children:
            out.extend(child.lines(depth + 1))
        return out


def span_tree(spans: Sequence[SpanRecord]) -> SpanNode:
    """The tree of one run's spans (one root), children sorted by name and identity."""
    ids = {s.span_id for s in spans}
    by_parent: dict[str | None, list[SpanRecord]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        by_parent.setdefault(parent, []).append(span)
    roots = by_parent.get(None, [])
    if len(roots) != 1:
        raise AssertionError(f"expected one root span, got {sorted(s.name for s in roots)}")

    def build(span: SpanRecord) -> SpanNode:
        children = sorted(
            (build(kid) for kid in by_parent.get(span.span_id, [])),
            key=lambda n: (n.name, n.identity),
        )
        identity = tuple(
            (k, str(span.attributes[k])) for k in IDENTITY_ATTRS if k in span.attributes
        )
        return SpanNode(span.name, identity, tuple(children))

    return build(roots[0])
