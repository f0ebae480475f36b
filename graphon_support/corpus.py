"""The Dify DSL corpus and one sample input set per file, shared by tests and benchmarks."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "dify-dsl"


def corpus_dir() -> Path:
    """``FLOWSCOPE_CORPUS`` (or its older name ``FLOWSCOPE_DSL_CORPUS``) if set, else
    ``../shared/dify-dsl`` next to the repository."""
    chosen = os.environ.get("FLOWSCOPE_CORPUS") or os.environ.get("FLOWSCOPE_DSL_CORPUS")
    return Path(chosen or _DEFAULT_CORPUS)


@dataclass(frozen=True)
class SampleRun:
    file: str
    inputs: dict[str, Any] = field(default_factory=dict)
    query: str | None = None

    @property
    def path(self) -> Path:
        return corpus_dir() / self.file


SAMPLES: dict[str, SampleRun] = {
    s.file: s
    for s in (
        SampleRun("SEO_Slug_Generator.yml", {"title": "How observability saves LLM budgets"}),
        SampleRun(
            "translation_workflow.yml",
            {
                "target_lang": "French",
                "source_lang": "English",
                "source_text": "Every penny and millisecond, traced.",
                "country": "France",
            },
        ),
        SampleRun("json-repair.yml", {"llm_string": '{"name": "flowscope", "nodes": [1, 2,'}),
        SampleRun("dify_course_demo.yml", {"course_name": "Observability 101"}),
        SampleRun("Document_chat_template.yml", {"input": "What does the probe record?"}),
        SampleRun("Jina_Reader_Jinja.yml", {"Question": "What is OpenTelemetry?"}),
        SampleRun(
            "Text_to_Card_Iteration.yml",
            {"author": "flowscope", "body_text": "Trace every node. Price every token."},
        ),
        SampleRun("Deep_Researcher_On_Dify.yml", {"Research_Theme": "LLM observability"}),
        SampleRun("AgentFlow.yml", query="Plan a trip to Lyon"),
        SampleRun("Artifact.yml", query="Draw a small SVG logo"),
        SampleRun("chart_demo.yml", query="Show sales by month"),
        SampleRun("llm_surrounded_game.yml", query="Hello"),
        SampleRun(
            "simple-kimi.yml", {"web_search": "关闭", "role_def": "A concise assistant"}, "Hi"
        ),
    )
}

# Offline runs that both engines are expected to complete (the engine benchmark's workload).
OFFLINE_WORKFLOWS: tuple[str, ...] = (
    "SEO_Slug_Generator.yml",
    "translation_workflow.yml",
    "json-repair.yml",
)
