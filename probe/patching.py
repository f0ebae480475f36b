"""Applying and removing target sets with wrapt post-import hooks.

A plain instance method is replaced by a plain function carrying the original's metadata
(:func:`probe._wrappers.make_method`): the interpreter binds it like any method, where a
:class:`wrapt.FunctionWrapper` builds a ``BoundFunctionWrapper`` on every attribute access and
costs several times more per call. Anything else (classmethods, builtins …), or every target
under ``FLOWSCOPE_PROBE_WRAPPER=wrapt``, gets a :class:`wrapt.FunctionWrapper`.

``import probe`` imports nothing it wraps: a hook is registered per target module and fires when
the host imports it (at once if it is already imported). Before wrapping, each method's signature
is compared with the one its extractors were written for; a mismatch skips that target with one
warning. A library whose version is outside the set's window gets one warning, and its targets
are still applied where their signatures match.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import sys
import threading
from collections.abc import Callable
from types import FunctionType, ModuleType
from typing import Any

import wrapt
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from probe import guard
from probe.spec import Target, TargetSet

MakeWrapper = Callable[[Target], Callable[..., Any]]
MakeMethod = Callable[[Target, FunctionType], FunctionType]

_hooked_modules: set[str] = set()
_hook_lock = threading.Lock()
_active: Patcher | None = None


class Patcher:
    """Wraps the targets of some target sets and remembers the originals to restore them."""

    def __init__(
        self,
        target_sets: list[TargetSet],
        make_wrapper: MakeWrapper,
        make_method: MakeMethod | None = None,
    ) -> None:
        self._sets = target_sets
        self._make_wrapper = make_wrapper
        self._make_method = make_method  # None: wrapt wrappers for every target
        self._originals: dict[str, tuple[type, str, Any]] = {}
        self._checked_versions: set[str] = set()
        self._lock = threading.RLock()

    @property
    def applied(self) -> list[str]:
        """Dotted names of the targets currently wrapped."""
        with self._lock:
            return sorted(self._originals)

    def start(self) -> None:
        """Become the active patcher and hook every target module."""
        global _active
        _active = self
        for module_name in sorted({t.module for s in self._sets for t in s.targets}):
            with _hook_lock:
                first = module_name not in _hooked_modules
                _hooked_modules.add(module_name)
            if first:
                wrapt.register_post_import_hook(_on_import, module_name)
            elif module_name in sys.modules:
                self.module_imported(sys.modules[module_name])

    def stop(self) -> None:
        """Restore every original method; hooks stay registered but do nothing."""
        global _active
        with self._lock:
            if _active is self:
                _active = None
            for owner, method, original in self._originals.values():
                setattr(owner, method, original)
            self._originals.clear()

    def module_imported(self, module: ModuleType) -> None:
        with self._lock:
            for target_set in self._sets:
                targets = [t for t in target_set.targets if t.module == module.__name__]
                if targets:
                    self._check_version(target_set)
                for target in targets:
                    try:
                        self._apply(target, module)
                    except Exception as exc:
                        guard.report(f"{target.target} (patching)", exc)

    def _apply(self, target: Target, module: ModuleType) -> None:
        if target.target in self._originals:
            return
        owner: Any = module
        for name in target.owner_path:
            owner = getattr(owner, name, None)
        if not isinstance(owner, type) or target.method not in owner.__dict__:
            guard.warn_once(
                target.target,
                "flowscope probe: %s not found; this target is skipped",
                target.target,
            )
            return
        original = owner.__dict__[target.method]
        problem = signature_problem(original, target.params)
        if problem:
            guard.warn_once(
                target.target,
                "flowscope probe: %s has an unrecognised signature (%s); this target is skipped",
                target.target,
                problem,
            )
            return
        if self._make_method is not None and isinstance(original, FunctionType):
            replacement: Any = self._make_method(target, original)
        else:
            replacement = wrapt.FunctionWrapper(original, self._make_wrapper(target))
        setattr(owner, target.method, replacement)
        self._originals[target.target] = (owner, target.method, original)

    def _check_version(self, target_set: TargetSet) -> None:
        if target_set.library in self._checked_versions:
            return
        self._checked_versions.add(target_set.library)
        version = library_version(target_set)
        try:
            supported = SpecifierSet(target_set.supported)
            ok = version is not None and Version(version) in supported
        except (InvalidSpecifier, InvalidVersion):
            ok = False
        if not ok:
            guard.warn_once(
                f"{target_set.library} (version)",
                "flowscope probe: %s version %s is outside the supported window %s; targets "
                "are applied only where their signatures match",
                target_set.library,
                version or "unknown",
                target_set.supported,
            )


def signature_problem(function: Any, params: tuple[str, ...]) -> str | None:
    """Why ``function``'s parameters (after ``self``) differ from ``params``, or None."""
    try:
        found = tuple(inspect.signature(function).parameters)[1:]
    except (TypeError, ValueError) as exc:
        return f"no signature: {exc}"
    if found != params:
        return f"expected parameters {params}, found {found}"
    return None


def library_version(target_set: TargetSet) -> str | None:
    """The installed version of the set's library, or None when it cannot be told."""
    if target_set.distribution:
        try:
            return importlib.metadata.version(target_set.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None
    module = sys.modules.get(target_set.library)
    version = getattr(module, "__version__", None)
    return version if isinstance(version, str) else None


def _on_import(module: ModuleType) -> None:
    patcher = _active
    if patcher is None:
        return
    try:
        patcher.module_imported(module)
    except Exception as exc:  # never break the host's import
        guard.report(f"{module.__name__} (import hook)", exc)
