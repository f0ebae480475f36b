"""LLM providers: the seam between nodes and language models.

``create_llm_client`` builds the configured provider (explicit argument > environment > default):
``FLOWSCOPE_LLM_PROVIDER`` = ``simulated`` (default, offline) or ``openai`` (any OpenAI-compatible
server: ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, optional ``FLOWSCOPE_LLM_MODEL`` override).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from workflow_core.errors import ProviderError
from workflow_core.providers.base import LLMClient

PROVIDERS = ("simulated", "openai")


def create_llm_client(
    provider: str | None = None, environ: Mapping[str, str] | None = None
) -> LLMClient:
    env = os.environ if environ is None else environ
    name = provider or env.get("FLOWSCOPE_LLM_PROVIDER") or "simulated"
    if name == "simulated":
        from workflow_core.providers.simulated import SimulatedLLM, load_script

        latency = env.get("FLOWSCOPE_SIM_LATENCY_MS") or "0"
        try:
            latency_ms = float(latency)
        except ValueError as exc:
            raise ProviderError(
                f"FLOWSCOPE_SIM_LATENCY_MS must be a number of milliseconds, got {latency!r}"
            ) from exc
        script_path = env.get("FLOWSCOPE_SIM_SCRIPT")
        script = load_script(script_path) if script_path else None
        return SimulatedLLM(latency_ms=latency_ms, script=script)
    if name == "openai":
        from workflow_core.providers.openai import DEFAULT_BASE_URL, OpenAIClient

        api_key = env.get("OPENAI_API_KEY")
        base_url = env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if not api_key and base_url == DEFAULT_BASE_URL:
            raise ProviderError(
                "the openai provider needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)"
            )
        return OpenAIClient(
            api_key=api_key, base_url=base_url, model_override=env.get("FLOWSCOPE_LLM_MODEL")
        )
    raise ProviderError(
        f"FLOWSCOPE_LLM_PROVIDER must be one of {', '.join(PROVIDERS)}, got {name!r}"
    )
