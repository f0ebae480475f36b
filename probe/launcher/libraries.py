"""Names of the libraries the probe has targets for, found without importing the target sets.

The launcher's ``sitecustomize`` instruments a process only once it imports one of these, so a
Python process that never touches a workflow engine (a build tool, a helper script) pays nothing.
Convention: ``probe/targets_<library>.py`` targets the top-level package ``<library>``; an entry
point in the ``flowscope.probe_targets`` group is named after its library.
"""

from __future__ import annotations

import pkgutil
from importlib.metadata import entry_points
from pathlib import Path

PROBE_DIR = Path(__file__).resolve().parent.parent
ENTRY_POINT_GROUP = "flowscope.probe_targets"


def target_libraries() -> list[str]:
    """``workflow_core`` plus one name per ``targets_*`` module and per entry point."""
    names = {"workflow_core"}
    for info in pkgutil.iter_modules([str(PROBE_DIR)]):
        if info.name.startswith("targets_"):
            names.add(info.name.removeprefix("targets_"))
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)
