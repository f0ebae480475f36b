"""Fixtures for the probe's tests."""

from __future__ import annotations

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


@pytest.fixture
def traced() -> Iterator[Traced]:
    """The probe instrumented with an in-memory exporter; uninstrumented afterwards."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.uninstrument()
    assert probe.instrument(tracer_provider=provider, settings=OFFLINE)
    try:
        yield Traced(exporter, provider)
    finally:
        probe.uninstrument()
        provider.shutdown()
