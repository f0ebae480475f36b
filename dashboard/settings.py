"""Dashboard settings, built once in the entry point (explicit argument > env var > default).

``flowscope dashboard --collector URL`` passes its explicit arguments to the Streamlit process as
the same environment variables, so the precedence holds across the process boundary.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dashboard.errors import ConfigError

DEFAULT_COLLECTOR_URL = "http://127.0.0.1:4318"
TEMPLATE_FIELDS = ("trace_id", "span_id", "start", "end", "service")
# A placeholder is a bare identifier in braces; other braces (JSON in a Grafana URL) stay as-is.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Settings:
    """Everything a dashboard session needs; docs/dashboard.md lists the env var names."""

    collector_url: str = DEFAULT_COLLECTOR_URL
    read_token: str | None = None
    jaeger_url: str | None = None
    logs_url_template: str | None = None
    apm_url_template: str | None = None
    password: str | None = None
    timeout_s: float = 10.0


def _check_template(name: str, template: str | None) -> str | None:
    if not template:
        return None

    for field in PLACEHOLDER.findall(template):
        if field not in TEMPLATE_FIELDS:
            raise ConfigError(
                f"{name}: unknown placeholder {{{field}}} in {template!r}; "
                f"allowed: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
            )
    return template


def _url(name: str, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def load_settings(
    *, collector_url: str | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Combine explicit arguments with ``FLOWSCOPE_*`` environment variables and defaults."""
    env = os.environ if env is None else env
    jaeger = env.get("FLOWSCOPE_JAEGER_URL") or None
    timeout_raw = env.get("FLOWSCOPE_DASHBOARD_TIMEOUT_S") or "10"
    try:
        timeout = float(timeout_raw)
    except ValueError:
        raise ConfigError(
            f"FLOWSCOPE_DASHBOARD_TIMEOUT_S must be a number of seconds, got {timeout_raw!r}"
        ) from None
    return Settings(
        collector_url=_url(
            "--collector / FLOWSCOPE_COLLECTOR_URL",
            collector_url or env.get("FLOWSCOPE_COLLECTOR_URL") or DEFAULT_COLLECTOR_URL,
        ),
        read_token=env.get("FLOWSCOPE_READ_TOKEN") or None,
        jaeger_url=_url("FLOWSCOPE_JAEGER_URL", jaeger) if jaeger else None,
        logs_url_template=_check_template(
            "FLOWSCOPE_LOGS_URL_TEMPLATE", env.get("FLOWSCOPE_LOGS_URL_TEMPLATE")
        ),
        apm_url_template=_check_template(
            "FLOWSCOPE_APM_URL_TEMPLATE", env.get("FLOWSCOPE_APM_URL_TEMPLATE")
        ),
        password=env.get("FLOWSCOPE_DASHBOARD_PASSWORD") or None,
        timeout_s=timeout,
    )
