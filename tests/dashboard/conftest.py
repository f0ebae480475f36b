"""Fixtures: one real collector with known data per test session, one empty collector."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from known_store import Known, running_collector, send_known_spans, wait_stored


@pytest.fixture(scope="session")
def known_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Known]]:
    with running_collector(tmp_path_factory.mktemp("known")) as url:
        known = send_known_spans(url)
        wait_stored(url, known)
        yield url, known


@pytest.fixture(scope="session")
def empty_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_collector(tmp_path_factory.mktemp("empty")) as url:
        yield url
