"""Fixtures for the probe's tests."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).parent))

from probe_support import OFFLINE, Traced

import probe


@pytest.fixture(params=["function", "wrapt"])
def traced(request: pytest.FixtureRequest) -> Iterator[Traced]:
    """The probe instrumented with an in-memory exporter; uninstrumented afterwards.

    Every test using it runs with both kinds of wrapper (``FLOWSCOPE_PROBE_WRAPPER``).
    """
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.uninstrument()
    settings = dataclasses.replace(OFFLINE, wrapper=request.param)
    assert probe.instrument(tracer_provider=provider, settings=settings)
    try:
        yield Traced(exporter, provider)
    finally:
        probe.uninstrument()
        provider.shutdown()
