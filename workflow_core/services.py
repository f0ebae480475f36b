"""Assemble a runner from the environment (used by the CLI and by embedding code).

Extension slots: each of ``workflow_core.retrieval``, ``workflow_core.tools``,
``workflow_core.http_client`` and ``workflow_core.documents`` may expose
``default_service(environ: Mapping[str, str]) -> object``; when present, its result fills the
matching :class:`~workflow_core.context.Services` slot.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from workflow_core.context import Services
from workflow_core.conversation import JsonFileConversationStore
from workflow_core.dsl import load_app
from workflow_core.errors import InputError
from workflow_core.events import RunListener
from workflow_core.providers import create_llm_client
from workflow_core.runner import WorkflowRunner
from workflow_core.sandbox import CodeSandbox
from workflow_core.settings import RunSettings

logger = logging.getLogger(__name__)

EXTENSION_SLOTS = {
    "retriever": "workflow_core.retrieval",
    "tools": "workflow_core.tools",
    "http": "workflow_core.http_client",
    "documents": "workflow_core.documents",
}
DEFAULT_CONVERSATIONS_DIR = ".flowscope/conversations"


def build_services(
    settings: RunSettings, environ: Mapping[str, str], *, provider: str | None = None
) -> Services:
    services = Services(
        llm=create_llm_client(provider, environ),
        sandbox=CodeSandbox(
            timeout_seconds=settings.code_timeout_seconds,
            memory_mb=settings.code_memory_mb,
            patch_sleep=settings.code_patch_sleep,
        ),
    )
    for slot, module_name in EXTENSION_SLOTS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        factory = getattr(module, "default_service", None)
        if callable(factory):
            setattr(services, slot, factory(environ))
    return services


def build_runner(
    file: str | Path,
    *,
    environ: Mapping[str, str] | None = None,
    provider: str | None = None,
    max_workers: int | None = None,
    listeners: Sequence[RunListener] = (),
) -> WorkflowRunner:
    env = os.environ if environ is None else environ
    app = load_app(file)
    settings = RunSettings.from_env(env, max_workers=max_workers)
    if env.get("FLOWSCOPE_DATABASE_URL"):
        # Run history on: every run and node execution, and the chat state, go to the SQL
        # run store (workflow_core.store; needs the `store` extra).
        try:
            from workflow_core.store.sql_store import open_for_app
        except ImportError as exc:
            raise InputError(
                "FLOWSCOPE_DATABASE_URL is set but the run store's packages are missing "
                f"({exc.name}); install them with: pip install 'flowscope[store]'"
            ) from exc
        store = open_for_app(app, environ=env)
        return WorkflowRunner(
            app,
            services=build_services(settings, env, provider=provider),
            settings=settings,
            listeners=[*listeners, store],
            conversation_store=store,
        )
    store_dir = env.get("FLOWSCOPE_CONVERSATIONS_DIR") or DEFAULT_CONVERSATIONS_DIR
    return WorkflowRunner(
        app,
        services=build_services(settings, env, provider=provider),
        settings=settings,
        listeners=listeners,
        conversation_store=JsonFileConversationStore(store_dir),
    )
