"""Edge states, the join rule and skip propagation of one scope (SPEC §5.2-§5.4).

Edges go UNKNOWN → TAKEN | SKIPPED. A node is ready when none of its incoming edges is UNKNOWN
and at least one is TAKEN, so a fan-in node waits for every branch and runs once. The ready
queue is FIFO and outgoing edges are processed in DSL order.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from workflow_core.graph import AppGraph, Scope

EdgeState = Literal["unknown", "taken", "skipped"]


class ScopeSchedule:
    """Which nodes of ``scope`` are ready to run, given the handles taken so far."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._edges: dict[int, EdgeState] = {}
        self._seen: set[str] = {scope.root}  # queued, ran or skipped: never queued again
        self._queue: deque[str] = deque([scope.root])

    def next_wave(self) -> list[str]:
        """Every node ready now, in FIFO order (empty when the scope is done)."""
        wave = list(self._queue)
        self._queue.clear()
        return wave

    def advance(self, node_id: str, handle: str, *, branching: bool) -> None:
        """Mark ``node_id``'s outgoing edges after it finished with ``handle``.

        A non-branch node takes every outgoing edge; a branch node skips the edges of other
        handles first (propagating the skips), then takes those of ``handle``.
        """
        outgoing = self.scope.outgoing.get(node_id, [])
        if branching:
            for edge in outgoing:
                if edge.source_handle != handle:
                    self._skip(id(edge), edge.target)
        for edge in outgoing:
            if branching and edge.source_handle != handle:
                continue
            self._edges[id(edge)] = "taken"
            if self._ready(edge.target):
                self._enqueue(edge.target)

    def _incoming(self, target: str) -> list[EdgeState]:
        return [self._edges.get(id(e), "unknown") for e in self.scope.incoming[target]]

    def _ready(self, target: str) -> bool:
        states = self._incoming(target)
        return "unknown" not in states and "taken" in states

    def _enqueue(self, target: str) -> None:
        if target not in self._seen:
            self._seen.add(target)
            self._queue.append(target)

    def _skip(self, edge_key: int, target: str) -> None:
        self._edges[edge_key] = "skipped"
        states = self._incoming(target)
        if "unknown" in states:
            return
        if "taken" in states:
            self._enqueue(target)
            return
        self._seen.add(target)  # every incoming edge skipped: the node is skipped
        for edge in self.scope.outgoing.get(target, []):
            self._skip(id(edge), edge.target)


def split_batches(wave: list[str], writers: frozenset[str]) -> list[list[str]]:
    """Split a wave so that nodes writing shared state run alone, in FIFO position: nodes
    queued after them see their writes, as in the sequential scheduler."""
    batches: list[list[str]] = []
    current: list[str] = []
    for node_id in wave:
        if node_id in writers:
            if current:
                batches.append(current)
            batches.append([node_id])
            current = []
        else:
            current.append(node_id)
    if current:
        batches.append(current)
    return batches


def state_writers(graph: AppGraph) -> frozenset[str]:
    """Nodes that write variables other nodes may read while they run: assigners, and the
    containers (and their ancestors) that hold one."""
    writers: set[str] = set()
    for node in graph.nodes.values():
        if node.writes_shared_state:
            parent: str | None = node.id
            while parent is not None:
                writers.add(parent)
                parent = graph.nodes[parent].spec.parent_id
    return frozenset(writers)
