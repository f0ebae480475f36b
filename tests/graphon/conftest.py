"""Fixtures for the graphon tests (run by ``.venv-graphon/bin/pytest tests/graphon``).

graphon needs Python >= 3.12: under the main 3.11 environment these tests are not collected.
Under ``CI=true`` with graphon importable nothing is skipped; ``scripts/graphon-venv.sh`` builds
the environment (and fails, in CI, when Python 3.12 is missing).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if importlib.util.find_spec("graphon") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    import pytest
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    if str(ROOT) not in sys.path:  # graphon_support is a repository directory, not installed
        sys.path.insert(0, str(ROOT))

    import probe
    from probe.settings import ProbeSettings

    @pytest.fixture
    def provider() -> TracerProvider:
        return TracerProvider()

    @pytest.fixture
    def exporter(provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
        """The probe instrumented (every span kept, payloads captured), spans kept in memory."""
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        probe.uninstrument()
        settings = ProbeSettings(
            traces_exporter="none", metrics_exporter="none", capture_content=True
        )
        assert probe.instrument(tracer_provider=provider, settings=settings)
        try:
            yield memory
        finally:
            probe.uninstrument()
            provider.shutdown()
