"""Fixtures for workflow_core tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from wfc_support import CORPUS


@pytest.fixture
def corpus() -> Path:
    assert CORPUS.is_dir(), f"the Dify DSL corpus is expected at {CORPUS}"
    return CORPUS


@pytest.fixture(autouse=True)
def _conversations_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI runs must not write conversations into the repository."""
    monkeypatch.setenv("FLOWSCOPE_CONVERSATIONS_DIR", str(tmp_path / "conversations"))
