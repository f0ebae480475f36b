"""Tool plugins: a plugin is a directory with ``manifest.yaml`` plus Python code.

See :mod:`workflow_core.tools.manifest` for the manifest format, :mod:`workflow_core.tools.registry`
for discovery and :class:`workflow_core.tools.base.ToolRunner` for the call seam.
"""

from workflow_core.tools.base import ToolError, ToolResult, ToolRunner
from workflow_core.tools.registry import PluginRegistry, default_registry, default_tool_runner

__all__ = [
    "PluginRegistry",
    "ToolError",
    "ToolResult",
    "ToolRunner",
    "default_registry",
    "default_tool_runner",
]
