from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from collector_harness import CollectorProcess


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One real collector per test module (chDB in a temp dir, free port)."""
    proc = CollectorProcess(Path(tmp_path_factory.mktemp("collector")))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
