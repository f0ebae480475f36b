"""Run the case-study workflow under the probe, once per KB config, in THIS process; print JSON.

Started as a subprocess by the tests (chDB allows one data directory per process, so the
pytest process never opens the knowledge store). Every config's retriever shares one store.
Usage: python case_run.py KB_DIR DSL QUESTION CONFIG...
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import probe
from probe.settings import ProbeSettings
from workflow_core.dsl import load_app
from workflow_core.retrieval.config import load_config
from workflow_core.retrieval.local import LocalKnowledgeRetriever
from workflow_core.retrieval.store import KnowledgeStore
from workflow_core.runner import WorkflowRunner
from workflow_core.settings import RunSettings


def main(kb_dir: str, dsl: str, question: str, *configs: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    probe.instrument(
        tracer_provider=provider,
        settings=ProbeSettings(traces_exporter="none", metrics_exporter="none"),
    )
    store = KnowledgeStore(Path(kb_dir))
    app = load_app(Path(dsl))
    report = []
    for config_path in configs:
        exporter.clear()
        config = load_config(Path(config_path), kb_dir=Path(kb_dir))
        services = dataclasses.replace(
            RunSettings().default_services(), retriever=LocalKnowledgeRetriever(config, store)
        )
        result = WorkflowRunner(app, services=services).run({"question": question})
        retrieval = [
            dict(s.attributes or {})
            for s in exporter.get_finished_spans()
            if (s.attributes or {}).get("flowscope.span.kind") == "retrieval"
        ]
        report.append(
            {
                "status": result.status,
                "error": result.error,
                "sources": [s["title"] for s in (result.outputs.get("sources") or [])],
                "retrieval": [{k: _plain(v) for k, v in r.items()} for r in retrieval],
            }
        )
    print(json.dumps(report))


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


if __name__ == "__main__":
    main(*sys.argv[1:])
