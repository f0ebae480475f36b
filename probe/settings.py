"""Probe settings: explicit argument > environment variable > default.

Built once by the entry point (the launcher's ``sitecustomize``, or the caller of
:func:`probe.instrument`) and passed in; nothing here is read at import time. OpenTelemetry's
variable names are used where one exists, ``FLOWSCOPE_*`` otherwise.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe.errors import SettingsError

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_CAPTURE_MAX_BYTES = 4096
DEFAULT_EXPORT_TIMEOUT_S = 3.0
DEFAULT_SHUTDOWN_TIMEOUT_MS = 2000
_EXPORTERS = ("otlp", "none", "console")
WRAPPERS = ("function", "wrapt")


@dataclass(frozen=True)
class ProbeSettings:
    """Everything the probe needs to know; see docs/probe.md for the table."""

    service_name: str | None = None
    endpoint: str = DEFAULT_ENDPOINT  # OTLP/HTTP base URL; signal paths are appended
    traces_endpoint: str | None = None  # full URL, wins over ``endpoint`` for traces
    logs_endpoint: str | None = None  # full URL, wins over ``endpoint`` for logs
    sampling_policy: Path | None = None
    capture_content: bool = True
    capture_max_bytes: int = DEFAULT_CAPTURE_MAX_BYTES
    redact_patterns: tuple[str, ...] = ()
    traces_exporter: str = "otlp"
    metrics_exporter: str = "otlp"
    logs_exporter: str = "none"
    export_timeout_s: float = DEFAULT_EXPORT_TIMEOUT_S
    shutdown_timeout_ms: int = DEFAULT_SHUTDOWN_TIMEOUT_MS
    # How a plain method is replaced: a lean function (default, ~5x cheaper per call) or a
    # wrapt.FunctionWrapper; other targets (classmethods, builtins …) always get the latter.
    wrapper: str = "function"

    def signal_endpoint(self, signal: str) -> str:
        """Full OTLP/HTTP URL for ``signal`` (``traces``, ``metrics``, ``logs``)."""
        if signal == "traces" and self.traces_endpoint:
            return self.traces_endpoint
        if signal == "logs" and self.logs_endpoint:
            return self.logs_endpoint
        return f"{self.endpoint.rstrip('/')}/v1/{signal}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ProbeSettings:
        """Settings from ``env`` (default ``os.environ``); keyword ``overrides`` win over it."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if name := env.get("OTEL_SERVICE_NAME"):
            values["service_name"] = name
        if endpoint := env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            values["endpoint"] = _url("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        if endpoint := env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            values["traces_endpoint"] = _url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
        if endpoint := env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"):
            values["logs_endpoint"] = _url("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", endpoint)
        if policy := env.get("FLOWSCOPE_SAMPLING_POLICY"):
            values["sampling_policy"] = Path(policy)
        if (raw := env.get("FLOWSCOPE_CAPTURE_CONTENT")) is not None:
            values["capture_content"] = _bool("FLOWSCOPE_CAPTURE_CONTENT", raw)
        if (raw := env.get("FLOWSCOPE_CAPTURE_MAX_BYTES")) is not None:
            values["capture_max_bytes"] = _int("FLOWSCOPE_CAPTURE_MAX_BYTES", raw, minimum=64)
        if raw := env.get("FLOWSCOPE_REDACT_PATTERNS"):
            values["redact_patterns"] = parse_patterns("FLOWSCOPE_REDACT_PATTERNS", raw)
        for key, var in (
            ("traces_exporter", "OTEL_TRACES_EXPORTER"),
            ("metrics_exporter", "OTEL_METRICS_EXPORTER"),
            ("logs_exporter", "OTEL_LOGS_EXPORTER"),
        ):
            if raw := env.get(var):
                values[key] = _choice(var, raw, _EXPORTERS)
        if raw := env.get("OTEL_EXPORTER_OTLP_TIMEOUT"):
            # OpenTelemetry specifies this variable in milliseconds.
            values["export_timeout_s"] = _int("OTEL_EXPORTER_OTLP_TIMEOUT", raw, minimum=1) / 1000
        if raw := env.get("FLOWSCOPE_SHUTDOWN_TIMEOUT_MS"):
            values["shutdown_timeout_ms"] = _int("FLOWSCOPE_SHUTDOWN_TIMEOUT_MS", raw, minimum=0)
        if raw := env.get("FLOWSCOPE_PROBE_WRAPPER"):
            values["wrapper"] = _choice("FLOWSCOPE_PROBE_WRAPPER", raw, WRAPPERS)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("wrapper", "function") not in WRAPPERS:
            raise SettingsError("wrapper", f"one of {', '.join(WRAPPERS)}", values["wrapper"])
        if "redact_patterns" in values:
            values["redact_patterns"] = tuple(values["redact_patterns"])
            for pattern in values["redact_patterns"]:
                _compile("redact_patterns", pattern)
        return cls(**values)


def parse_patterns(name: str, raw: str) -> tuple[str, ...]:
    """A JSON array of regexes, or a comma-separated list when no pattern contains a comma."""
    text = raw.strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(name, "a JSON array of regular expressions", raw) from exc
        if not isinstance(loaded, list) or not all(isinstance(p, str) for p in loaded):
            raise SettingsError(name, "a JSON array of strings", raw)
        patterns = tuple(loaded)
    else:
        patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    for pattern in patterns:
        _compile(name, pattern)
    return patterns


def _compile(name: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SettingsError(name, f"a valid regular expression ({exc})", pattern) from exc


def _url(name: str, raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise SettingsError(name, "an http:// or https:// URL", raw)
    return raw


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(name, "true or false", raw)


def _int(name: str, raw: str, *, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(name, "an integer", raw) from exc
    if value < minimum:
        raise SettingsError(name, f"an integer >= {minimum}", raw)
    return value


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise SettingsError(name, f"one of {', '.join(choices)}", raw)
    return value
