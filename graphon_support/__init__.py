"""Run Dify DSL files on graphon (Dify's own engine) offline, for tests and benchmarks.

Not part of flowscope's four packages and imported by none of them: it needs Python >= 3.12 and
graphon (``scripts/graphon-venv.sh`` builds ``.venv-graphon``). It may import ``workflow_core``
(to reuse the deterministic simulated LLM and the code sandbox, so both engines see the same
model answers), never the other way round.
"""

from __future__ import annotations

from graphon_support.loader import GraphonRun, load_engine, run_file

__all__ = ["GraphonRun", "load_engine", "run_file"]
