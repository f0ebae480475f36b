"""The plugin manifest (``manifest.yaml`` in a plugin directory), parsed once with pydantic.

```yaml
name: calculator               # plugin name (unique)
version: 0.1.0
provider: calculator           # the DSL's tool ``provider_id`` this plugin answers
serves: []                     # further provider ids it answers (e.g. an offline stand-in)
description: Safe arithmetic.
entrypoint: plugin:Calculator  # module (relative to the directory) : class
settings:                      # non-secret configuration, given to the plugin's constructor
  - {name: precision, required: false, env: FLOWSCOPE_CALCULATOR_PRECISION}
credentials:                   # secrets, given to each call; never read from the DSL
  - {name: api_key, required: false, env: FLOWSCOPE_CALCULATOR_API_KEY}
tools:
  - name: calculate
    description: Evaluate an arithmetic expression.
    parameters:                # JSON Schema of the tool's parameters
      type: object
      properties: {expression: {type: string}}
      required: [expression]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workflow_core.tools.base import ToolError

MANIFEST_NAME = "manifest.yaml"


class FieldSpec(BaseModel):
    """A setting or credential: resolved from its env variable, else the plugins config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    required: bool = False
    #: Environment variable that supplies it (wins over the plugins config file).
    env: str | None = None


class ToolSpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type", "object") != "object":
            raise ValueError(f"parameters must be a JSON Schema of type 'object', got {value!r}")
        return value


class PluginManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    provider: str
    serves: tuple[str, ...] = ()
    description: str = ""
    entrypoint: str
    settings: tuple[FieldSpec, ...] = ()
    credentials: tuple[FieldSpec, ...] = ()
    tools: tuple[ToolSpecModel, ...]

    @field_validator("entrypoint")
    @classmethod
    def _module_colon_class(cls, value: str) -> str:
        module, sep, attr = value.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"entrypoint must be 'module:Class', got {value!r}")
        return value

    @property
    def provider_ids(self) -> tuple[str, ...]:
        return (self.provider, *self.serves)

    def tool(self, name: str) -> ToolSpecModel | None:
        return next((t for t in self.tools if t.name == name), None)


def load_manifest(directory: Path) -> PluginManifest:
    """Read and validate ``directory/manifest.yaml``; errors name the file and the field."""
    path = directory / MANIFEST_NAME
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ToolError(f"{path}: cannot read plugin manifest: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ToolError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ToolError(f"{path}: a manifest must be a mapping, got {type(raw).__name__}")
    try:
        return PluginManifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ToolError(f"{path}: invalid plugin manifest: {problems}") from exc
