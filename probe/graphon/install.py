"""Puts a :class:`~probe.graphon.layer.FlowscopeLayer` into every graphon ``Engine``.

A wrapt post-import hook on ``graphon.engine.engine`` wraps ``Engine.__init__`` once the host
imports graphon (``import probe`` imports nothing of graphon). The graphon version is checked
first: outside the window the probe was written and tested for, one warning and no patching —
the layer reads graphon internals (worker frame ids) that may move between versions.

The layer asks for the probe's runtime at the start of each run, so an engine built before
``probe.instrument()`` or run after ``probe.uninstrument()`` is simply not traced.
"""

from __future__ import annotations

import importlib.metadata
import threading
from types import ModuleType
from typing import Any

import wrapt
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from probe import guard

MODULE = "graphon.engine.engine"
TARGET = "graphon.engine.engine:Engine.__init__"
LLM_MODULE = "graphon.dsl.slim.llm"
LLM_METHODS = ("SlimLLM.invoke_llm", "SlimLLM.invoke_llm_with_structured_output")
TOOL_MODULE = "graphon.dsl.tool_runtime"
TOOL_METHOD = "SlimToolNodeRuntime.invoke"

_lock = threading.Lock()
_hooked = False
_patched: set[str] = set()


def supported(version: str | None, window: str) -> bool:
    if version is None:
        return False
    try:
        return Version(version) in SpecifierSet(window)
    except InvalidVersion:
        return False


def register(window: str) -> None:
    """Hook graphon's engine module (idempotent); patches when it is imported."""
    global _hooked
    with _lock:
        if _hooked:
            return
        _hooked = True
    wrapt.register_post_import_hook(lambda module: _patch(module, window), MODULE)
    wrapt.register_post_import_hook(lambda module: _patch_llm(module, window), LLM_MODULE)
    wrapt.register_post_import_hook(lambda module: _patch_tools(module, window), TOOL_MODULE)


def _version_ok(window: str) -> bool:
    try:
        version = importlib.metadata.version("graphon")
    except importlib.metadata.PackageNotFoundError:
        version = None
    if not supported(version, window):
        guard.warn_once(
            "graphon (version)",
            "flowscope probe: graphon %s is outside the supported window %s; graphon is not "
            "instrumented",
            version or "unknown",
            window,
        )
        return False
    return True


def _first(key: str) -> bool:
    with _lock:
        if key in _patched:
            return False
        _patched.add(key)
        return True


def _patch(module: ModuleType, window: str) -> None:
    if not _version_ok(window) or not _first(TARGET):
        return
    try:
        wrapt.wrap_function_wrapper(module, "Engine.__init__", _engine_init)
    except Exception as exc:
        guard.report(f"{TARGET} (patching)", exc)


def _patch_llm(module: ModuleType, window: str) -> None:
    if not _version_ok(window) or not _first(LLM_MODULE):
        return
    from probe.graphon.llm import make_llm_wrapper

    wrapper = make_llm_wrapper(current_runtime)
    for method in LLM_METHODS:
        try:
            wrapt.wrap_function_wrapper(module, method, wrapper)
        except Exception as exc:
            guard.report(f"{LLM_MODULE}:{method} (patching)", exc)


def _engine_init(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    if current_runtime() is None:  # built while the probe is not instrumented: not traced
        return result
    try:
        from probe.graphon.layer import FlowscopeLayer

        instance.add_layer(FlowscopeLayer(instance, current_runtime))
    except Exception as exc:
        guard.report(TARGET, exc)
    return result


def current_runtime() -> Any:
    """The probe's runtime while instrumented, else None."""
    from probe import instrumentation

    state = getattr(instrumentation, "_state", None)
    return getattr(state, "runtime", None)


def _patch_tools(module: ModuleType, window: str) -> None:
    if not _version_ok(window) or not _first(TOOL_MODULE):
        return
    from probe.graphon.tools import make_tool_wrapper

    try:
        wrapt.wrap_function_wrapper(module, TOOL_METHOD, make_tool_wrapper(current_runtime))
    except Exception as exc:
        guard.report(f"{TOOL_MODULE}:{TOOL_METHOD} (patching)", exc)


def patched() -> set[str]:
    """What has been wrapped so far (``TARGET`` and/or ``LLM_MODULE``)."""
    with _lock:
        return set(_patched)
