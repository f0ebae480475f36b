"""The tool seam: :meth:`ToolRunner.invoke` is how tool and agent nodes call plugin tools.

``invoke`` is concrete and final (the probe's ``tool`` span target, docs/contracts.md); runners
implement ``_invoke``. A plugin's code implements the :class:`ToolPlugin` protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import jsonschema

from workflow_core.errors import FlowscopeError

if TYPE_CHECKING:
    from workflow_core.tools.registry import PluginRegistry


class ToolError(FlowscopeError):
    """A plugin is missing or invalid, or a tool call failed."""


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns, in the shape Dify's tool node outputs (SPEC §7.16)."""

    text: str = ""
    json: tuple[Any, ...] = ()
    files: tuple[dict[str, Any], ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ToolPlugin(Protocol):
    """The class a plugin's ``entrypoint`` names. Instantiated once per registry."""

    def invoke(
        self, tool: str, params: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> ToolResult: ...


class ToolRunner:
    """Calls plugin tools by ``(provider, tool)``, checking parameters against the manifest.

    Credentials come from the environment (each manifest credential names its variable) or the
    plugins config file (``FLOWSCOPE_PLUGINS_CONFIG``), never from the DSL.
    """

    def __init__(self, registry: PluginRegistry) -> None:
        self.registry = registry

    def invoke(self, provider: str, tool: str, params: dict[str, Any]) -> ToolResult:
        """Run ``tool`` of ``provider`` with ``params``; failures raise :class:`ToolError`."""
        return self._invoke(provider, tool, params)

    def _invoke(self, provider: str, tool: str, params: dict[str, Any]) -> ToolResult:
        from workflow_core.tools.registry import resolve_fields

        self.registry.check(provider, tool)
        loaded = self.registry.get(provider)
        spec = loaded.manifest.tool(tool)
        assert spec is not None  # checked above
        try:
            jsonschema.validate(params, spec.parameters)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "(parameters)"
            raise ToolError(f"tool {provider}/{tool}: parameter {where}: {exc.message}") from exc
        name = loaded.manifest.name
        from_file = self.registry.plugin_config(name).credentials
        creds = resolve_fields(name, "credential", loaded.manifest.credentials, from_file)
        try:
            return loaded.plugin.invoke(tool, params, creds)
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError(f"tool {provider}/{tool} failed: {type(exc).__name__}: {exc}") from exc
