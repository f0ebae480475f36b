"""``execute_tool {tool}`` spans for graphon's Slim tool runtime (``SlimToolNodeRuntime.invoke``).

The runtime answers with a generator of tool messages, consumed by the tool node: the span lasts
until the stream ends (:mod:`.calls`). Attributes are those of workflow_core's
``ToolRunner.invoke``; parameters are captured (redacted) only when content capture is on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from probe import semconv
from probe._wrappers import Runtime
from probe.graphon.calls import Call, Tracker, wrap_streaming
from probe.spec import Attributes, Scope

WHERE = "graphon.dsl.tool_runtime:SlimToolNodeRuntime.invoke"


def _describe(scope: Scope, instance: Any, kwargs: dict[str, Any]) -> tuple[str, Attributes]:
    tool = str(getattr(instance, "tool_name", "") or "tool")
    return f"execute_tool {tool}", {
        semconv.GEN_AI_OPERATION_NAME: "execute_tool",
        semconv.GEN_AI_TOOL_NAME: tool,
        semconv.TOOL_PROVIDER: str(getattr(instance, "provider", "") or ""),
    }


class _Messages(Tracker):
    def __init__(self, instance: Any) -> None:
        self.count = 0

    def item(self, item: Any) -> None:
        self.count += 1

    def end(self, call: Call, error: BaseException | None) -> Attributes:
        return {"flowscope.tool.message_count": self.count}


def make_tool_wrapper(runtime_source: Callable[[], Runtime | None]) -> Callable[..., Any]:
    return wrap_streaming(semconv.KIND_TOOL, WHERE, _describe, _Messages, runtime_source)
