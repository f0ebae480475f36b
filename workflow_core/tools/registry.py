"""Plugin discovery: built-in plugins plus directories named by config.

A registry reads every manifest up front (so ``validate`` can report a missing provider or tool
without running anything) and imports a plugin's code on first use.

Configuration (explicit argument > env > file): plugin directories come from ``plugin_dirs``,
``FLOWSCOPE_PLUGIN_PATH`` (``os.pathsep``-separated) and the ``plugin_dirs`` list of the YAML file
named by ``FLOWSCOPE_PLUGINS_CONFIG``, which also holds per-plugin ``settings`` and
``credentials``::

    plugin_dirs: [examples/plugins]
    plugins:
      offline-web:
        settings: {fixture_dir: examples/plugins/offline_web_fixtures}
      my-search:
        credentials: {api_key: sk-...}
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflow_core.tools.base import ToolError, ToolPlugin, ToolRunner
from workflow_core.tools.manifest import MANIFEST_NAME, FieldSpec, PluginManifest, load_manifest

logger = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).parent / "builtin"


class PluginConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: dict[str, str] = Field(default_factory=dict)
    credentials: dict[str, str] = Field(default_factory=dict)


class PluginsConfig(BaseModel):
    """The YAML file named by ``FLOWSCOPE_PLUGINS_CONFIG``."""

    model_config = ConfigDict(extra="forbid")

    plugin_dirs: list[Path] = Field(default_factory=list)
    plugins: dict[str, PluginConfig] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PluginsConfig:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            config = cls.model_validate(raw)
        except (OSError, yaml.YAMLError) as exc:
            raise ToolError(f"{path}: cannot read plugins config: {exc}") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ToolError(f"{path}: invalid plugins config: {problems}") from exc
        # Relative plugin directories are relative to the config file.
        config.plugin_dirs = [p if p.is_absolute() else path.parent / p for p in config.plugin_dirs]
        return config


def resolve_fields(
    plugin: str, kind: str, specs: Iterable[FieldSpec], from_file: Mapping[str, str]
) -> dict[str, str]:
    """Values for declared settings/credentials: env variable > config file; required enforced."""
    values: dict[str, str] = {}
    for spec in specs:
        value = os.environ.get(spec.env) if spec.env else None
        if value is None:
            value = from_file.get(spec.name)
        if value is None and spec.required:
            hint = f"set {spec.env} or " if spec.env else ""
            raise ToolError(
                f"plugin {plugin!r}: {kind} {spec.name!r} is required; "
                f"{hint}add plugins.{plugin}.{kind}s.{spec.name} to FLOWSCOPE_PLUGINS_CONFIG"
            )
        if value is not None:
            values[spec.name] = value
    return values


@dataclass(frozen=True)
class LoadedPlugin:
    manifest: PluginManifest
    directory: Path
    plugin: ToolPlugin


class PluginRegistry:
    """Manifests by provider id; plugin code imported lazily, once."""

    def __init__(self, directories: Iterable[Path], config: PluginsConfig | None = None) -> None:
        self.config = config or PluginsConfig()
        self._manifests: dict[str, tuple[PluginManifest, Path]] = {}
        self._loaded: dict[str, LoadedPlugin] = {}
        self._lock = threading.Lock()
        for directory in directories:
            self._scan(Path(directory))

    def _scan(self, directory: Path) -> None:
        if not directory.is_dir():
            raise ToolError(f"plugin directory {directory} does not exist")
        candidates = (
            [directory]
            if (directory / MANIFEST_NAME).is_file()
            else sorted(p for p in directory.iterdir() if (p / MANIFEST_NAME).is_file())
        )
        for plugin_dir in candidates:
            manifest = load_manifest(plugin_dir)
            for provider in manifest.provider_ids:
                # Later directories override earlier ones (a user plugin replaces a built-in).
                self._manifests[provider] = (manifest, plugin_dir)

    @property
    def providers(self) -> list[str]:
        return sorted(self._manifests)

    def _key(self, provider: str) -> str:
        """Plugin-era ids (``langgenius/tavily/tavily``) fall back to their last segment."""
        if provider not in self._manifests and "/" in provider:
            return provider.rstrip("/").rsplit("/", 1)[-1]
        return provider

    def manifest(self, provider: str) -> PluginManifest:
        try:
            return self._manifests[self._key(provider)][0]
        except KeyError:
            raise ToolError(
                f"no plugin provides {provider!r}; installed providers: {self.providers}. "
                "Add a plugin directory with FLOWSCOPE_PLUGIN_PATH or FLOWSCOPE_PLUGINS_CONFIG"
            ) from None

    def check(self, provider: str, tool: str) -> None:
        """Raise :class:`ToolError` unless ``provider`` has ``tool`` (validate-time check)."""
        manifest = self.manifest(provider)
        if manifest.tool(tool) is None:
            raise ToolError(
                f"plugin {manifest.name!r} (provider {provider!r}) has no tool {tool!r}; "
                f"it has {[t.name for t in manifest.tools]}"
            )

    def get(self, provider: str) -> LoadedPlugin:
        manifest = self.manifest(provider)
        with self._lock:
            loaded = self._loaded.get(manifest.name)
            if loaded is None:
                directory = self._manifests[self._key(provider)][1]
                loaded = self._loaded[manifest.name] = self._load(manifest, directory)
        return loaded

    def plugin_config(self, name: str) -> PluginConfig:
        return self.config.plugins.get(name, PluginConfig())

    def _load(self, manifest: PluginManifest, directory: Path) -> LoadedPlugin:
        module_name, _, class_name = manifest.entrypoint.partition(":")
        path = directory / (module_name.replace(".", "/") + ".py")
        qualified = f"flowscope_plugins.{manifest.name.replace('-', '_')}.{module_name}"
        spec = importlib.util.spec_from_file_location(qualified, path)
        if spec is None or spec.loader is None or not path.is_file():
            raise ToolError(f"{directory / MANIFEST_NAME}: entrypoint module {path} not found")
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ToolError(f"{path}: plugin code failed to import: {exc}") from exc
        cls: Any = getattr(module, class_name, None)
        if cls is None:
            raise ToolError(f"{path}: entrypoint class {class_name!r} not found")
        settings = resolve_fields(
            manifest.name, "setting", manifest.settings, self.plugin_config(manifest.name).settings
        )
        plugin = cls(settings=settings, directory=directory)
        if not isinstance(plugin, ToolPlugin):
            raise ToolError(f"{path}: {class_name} has no invoke(tool, params, credentials)")
        logger.debug("loaded plugin %s %s from %s", manifest.name, manifest.version, directory)
        return LoadedPlugin(manifest, directory, plugin)


def default_registry(
    plugin_dirs: Iterable[Path] = (), config_path: Path | None = None
) -> PluginRegistry:
    """Built-ins, then ``FLOWSCOPE_PLUGINS_CONFIG`` dirs, ``FLOWSCOPE_PLUGIN_PATH``, arguments."""
    config_env = os.environ.get("FLOWSCOPE_PLUGINS_CONFIG")
    path = config_path or (Path(config_env) if config_env else None)
    config = PluginsConfig.load(path) if path else PluginsConfig()
    env_dirs = [Path(p) for p in os.environ.get("FLOWSCOPE_PLUGIN_PATH", "").split(os.pathsep) if p]
    dirs = [BUILTIN_DIR, *config.plugin_dirs, *env_dirs, *plugin_dirs]
    return PluginRegistry(dirs, config)


_default_lock = threading.Lock()
_default_runner: ToolRunner | None = None


def default_tool_runner() -> ToolRunner:
    """The process's runner when the run was given none (config read on first use)."""
    global _default_runner
    with _default_lock:
        if _default_runner is None:
            _default_runner = ToolRunner(default_registry())
        return _default_runner
