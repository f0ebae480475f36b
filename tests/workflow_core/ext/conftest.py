"""Fixtures for the core-ext tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ext_support import LoopbackServer, start_server

from workflow_core.context import Services
from workflow_core.http_client import HttpClient
from workflow_core.providers.simulated import SimulatedLLM
from workflow_core.settings import RunSettings
from workflow_core.tools.base import ToolRunner
from workflow_core.tools.registry import default_registry


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    state = LoopbackServer(url="")
    httpd = start_server(state)
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def make_services() -> Callable[..., Services]:
    """Offline services with this package's real HTTP client and tool runner."""

    def build(
        routes: dict[str, str] | None = None, script: dict[str, Any] | None = None
    ) -> Services:
        base = RunSettings(code_patch_sleep=True).default_services()
        return replace(
            base,
            llm=SimulatedLLM(script=script) if script else base.llm,
            http=HttpClient(routes or {}),
            tools=ToolRunner(default_registry()),
        )

    return build
