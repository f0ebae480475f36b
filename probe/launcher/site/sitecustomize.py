"""Loaded by every Python interpreter started under ``auto-instrument`` (via PYTHONPATH).

It arranges for the process to be instrumented as soon as it imports a library the probe has
targets for (``workflow_core``, ``graphon`` …: a wrapt post-import hook, so a process that never
imports one — a build tool, a helper script — loads nothing), then chains to the
``sitecustomize`` this one shadows (a distribution's or the virtualenv's), exactly as
``opentelemetry-instrument`` does. A failure here never stops the host: it is reported on
stderr and the program runs uninstrumented.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

_started = False


def _watch() -> None:
    """Instrument on the first import of a target library (at once if one is already loaded)."""
    try:
        import wrapt

        from probe.launcher.libraries import target_libraries

        for library in target_libraries():
            wrapt.register_post_import_hook(_on_library_import, library)
    except Exception as exc:  # never break the host
        print(f"flowscope probe: not instrumenting this process ({exc!r})", file=sys.stderr)


def _on_library_import(module: object) -> None:
    global _started
    if not _started:
        _started = True
        _instrument()


def _instrument() -> None:
    try:
        import probe
        from probe.settings import ProbeSettings

        probe.instrument(settings=ProbeSettings.from_env())
        _continue_trace(os.environ.get("TRACEPARENT"), os.environ.get("TRACESTATE"))
    except Exception as exc:  # never break the host
        print(
            f"flowscope probe: not instrumenting this process ({type(exc).__name__}: {exc})",
            file=sys.stderr,
        )


def _continue_trace(traceparent: str | None, tracestate: str | None) -> None:
    """W3C trace context handed down by the parent process (``TRACEPARENT`` / ``TRACESTATE``
    environment variables): workflow runs of this process become children of that span."""
    if not traceparent:
        return
    from opentelemetry import context
    from opentelemetry.propagate import extract

    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    context.attach(extract(carrier))


def _chain() -> None:
    """Execute the next ``sitecustomize`` on sys.path after this directory, if any."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_watch()
_chain()
