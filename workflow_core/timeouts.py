"""Bounding a node's run by its timeout and by what is left of the run's time."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from workflow_core.errors import NodeTimeoutError, RunLimitError
from workflow_core.nodes.base import Node

T = TypeVar("T")


def call_with_timeout(
    fn: Callable[[], T], limit: float, instance: Node[Any], node_timeout: float | None
) -> T:
    """Run ``fn`` on a helper thread (context copied) and give up after ``limit`` seconds.

    Python cannot kill a thread: a node that overruns is abandoned and its late result dropped.
    Code nodes are killed for real by the sandbox's own timeout.
    """
    if limit <= 0:
        raise RunLimitError(f"run exceeded its time limit before node {instance.id}")
    box: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = context.run(fn)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"flowscope-node-{instance.id}", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        if node_timeout is not None and node_timeout <= limit:
            raise NodeTimeoutError(
                instance.id, instance.type, f"timed out after {node_timeout:g} s"
            )
        raise RunLimitError(
            f"run exceeded its time limit while node {instance.id} was running "
            "(FLOWSCOPE_MAX_RUN_SECONDS)"
        )
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value
