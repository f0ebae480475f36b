"""Run settings. Built in entry points (explicit argument > environment > default) and passed in;
nothing here is read at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from workflow_core.errors import InputError

if TYPE_CHECKING:
    from workflow_core.context import Services
    from workflow_core.dsl import DifyApp

#: Environment variable → settings field.
ENV_NAMES = {
    "FLOWSCOPE_MAX_WORKERS": "max_workers",
    "FLOWSCOPE_MAX_STEPS": "max_steps",
    "FLOWSCOPE_MAX_RUN_SECONDS": "max_run_seconds",
    "FLOWSCOPE_NODE_TIMEOUT": "node_timeout_seconds",
    "FLOWSCOPE_DIALOGUE_COUNT_BASE": "dialogue_count_base",
    "FLOWSCOPE_CODE_TIMEOUT": "code_timeout_seconds",
    "FLOWSCOPE_CODE_MEMORY_MB": "code_memory_mb",
    "FLOWSCOPE_CODE_NO_SLEEP": "code_patch_sleep",
    "FLOWSCOPE_USER_ID": "user_id",
}
#: ``FLOWSCOPE_ENV_<NAME>`` overrides the DSL value of environment variable ``<NAME>``
#: (the way to supply ``secret`` values, which exports leave empty).
ENV_VALUE_PREFIX = "FLOWSCOPE_ENV_"


@dataclass(frozen=True)
class RunSettings:
    max_workers: int = 4
    max_steps: int = 500
    max_run_seconds: float = 1200.0
    node_timeout_seconds: float | None = None
    dialogue_count_base: int = 0
    code_timeout_seconds: float = 15.0
    code_memory_mb: int = 1024
    code_patch_sleep: bool = False
    user_id: str = "flowscope-user"
    env_values: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_workers < 1:
            raise InputError(f"max_workers must be at least 1, got {self.max_workers}")
        if self.max_steps < 1:
            raise InputError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.max_run_seconds <= 0:
            raise InputError(f"max_run_seconds must be positive, got {self.max_run_seconds}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **explicit: Any) -> RunSettings:
        """Settings from ``FLOWSCOPE_*`` variables, with explicit (non-None) arguments winning."""
        env = os.environ if environ is None else environ
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, attr in ENV_NAMES.items():
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            kind = str(types[attr])
            try:
                if "bool" in kind:
                    values[attr] = raw.strip().lower() in ("1", "true", "yes", "on")
                elif "int" in kind:
                    values[attr] = int(raw)
                elif "float" in kind:
                    values[attr] = float(raw)
                else:
                    values[attr] = raw
            except ValueError as exc:
                raise InputError(f"{name} must be a number, got {raw!r}") from exc
        values["env_values"] = {
            k[len(ENV_VALUE_PREFIX) :]: v for k, v in env.items() if k.startswith(ENV_VALUE_PREFIX)
        }
        values.update({k: v for k, v in explicit.items() if v is not None})
        return cls(**values)

    def with_changes(self, **changes: Any) -> RunSettings:
        return replace(self, **changes)

    def environment_values(self, app: DifyApp) -> dict[str, Any]:
        """The app's environment variables, with ``FLOWSCOPE_ENV_<NAME>`` overrides."""
        values: dict[str, Any] = {}
        for var in app.environment_variables:
            value: Any = self.env_values.get(var.name, var.value)
            if var.value_type == "number" and isinstance(value, str) and value.strip():
                number = float(value)
                value = int(number) if number.is_integer() else number
            values[var.name] = value
        return values

    def default_services(self) -> Services:
        """Offline services: the simulated LLM and the process sandbox."""
        from workflow_core.context import Services
        from workflow_core.providers.simulated import SimulatedLLM
        from workflow_core.sandbox import CodeSandbox

        return Services(
            llm=SimulatedLLM(),
            sandbox=CodeSandbox(
                timeout_seconds=self.code_timeout_seconds,
                memory_mb=self.code_memory_mb,
                patch_sleep=self.code_patch_sleep,
            ),
        )
