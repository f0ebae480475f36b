"""The knowledge-retrieval node over the Retriever seam (an in-memory retriever we own; the
chDB-backed one is exercised through `flowscope` subprocesses in test_knowledge.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ext_support import app_from, end_node, start_node

from workflow_core.context import Services
from workflow_core.retrieval.base import KnowledgeError, RetrievedChunk, Retriever
from workflow_core.runner import WorkflowRunner


class MemoryRetriever(Retriever):
    """Scores = fraction of query words found in the chunk."""

    def __init__(self, datasets: dict[str, list[str]]) -> None:
        self.datasets = datasets
        self.calls: list[dict[str, Any]] = []

    def _search(
        self, query: str, *, top_k: int, score_threshold: float | None, dataset_ids: list[str]
    ) -> list[RetrievedChunk]:
        self.calls.append({"top_k": top_k, "threshold": score_threshold, "ids": dataset_ids})
        words = query.lower().split()
        hits = []
        for dataset in dataset_ids:
            if dataset not in self.datasets:
                raise KnowledgeError(f"dataset {dataset!r} is not configured")
            for i, text in enumerate(self.datasets[dataset]):
                score = sum(w in text.lower() for w in words) / len(words)
                if score > 0 and (score_threshold is None or score >= score_threshold):
                    hits.append(
                        RetrievedChunk(text, score, dataset, dataset, f"d{i}", f"{i}.md", "s")
                    )
        return hits


def retrieval_app(mode: str, config: dict[str, Any] | None = None) -> Any:
    data: dict[str, Any] = {
        "type": "knowledge-retrieval",
        "title": "KR",
        "dataset_ids": ["a", "b"],
        "query_variable_selector": ["start", "q"],
        "retrieval_mode": mode,
    }
    if config is not None:
        data["multiple_retrieval_config"] = config
    nodes = [
        start_node({"q": "text-input"}, required=False),
        {"id": "kr", "data": data},
        end_node({"result": ["kr", "result"]}),
    ]
    return app_from("kr", nodes, [("start", "kr"), ("kr", "end")])


DATA = {
    "a": ["vector search in clickhouse", "cosine distance explained", "unrelated text"],
    "b": ["vector databases compared", "search engines"],
}


def run(
    make_services: Callable[..., Services], app: Any, query: str | None
) -> tuple[Any, MemoryRetriever]:
    retriever = MemoryRetriever(DATA)
    services = replace(make_services(), retriever=retriever)
    inputs = {} if query is None else {"q": query}
    return WorkflowRunner(app, services=services).run(inputs), retriever


def test_multiple_mode_merges_datasets_best_first_with_top_k_and_threshold(
    make_services: Callable[..., Services],
) -> None:
    app = retrieval_app("multiple", {"top_k": 3, "score_threshold": 0.5})
    result, retriever = run(make_services, app, "vector search")
    assert result.status == "succeeded", result.error
    items = result.outputs["result"]
    assert [i["content"] for i in items] == [
        "vector search in clickhouse",
        "vector databases compared",
        "search engines",
    ]
    assert [i["metadata"]["position"] for i in items] == [1, 2, 3]
    assert items[0]["metadata"]["score"] == 1.0 and items[0]["metadata"]["dataset_id"] == "a"
    assert retriever.calls == [{"top_k": 3, "threshold": 0.5, "ids": ["a", "b"]}]


def test_single_mode_keeps_the_dataset_of_the_best_hit(
    make_services: Callable[..., Services],
) -> None:
    result, _ = run(make_services, retrieval_app("single"), "vector databases")
    assert {i["metadata"]["dataset_id"] for i in result.outputs["result"]} == {"b"}


def test_threshold_disabled_flag_and_default_top_k(make_services: Callable[..., Services]) -> None:
    app = retrieval_app("multiple", {"score_threshold": 0.9, "score_threshold_enabled": False})
    _, retriever = run(make_services, app, "vector")
    assert retriever.calls == [{"top_k": 4, "threshold": None, "ids": ["a", "b"]}]


def test_non_string_query_and_retriever_errors_fail_the_node(
    make_services: Callable[..., Services],
) -> None:
    result, _ = run(make_services, retrieval_app("multiple"), None)
    assert result.status == "failed"
    assert "kr (knowledge-retrieval): query start.q must be a string, got NoneType" in (
        result.error or ""
    )
    retriever = MemoryRetriever({"a": []})
    services = replace(make_services(), retriever=retriever)
    failed = WorkflowRunner(retrieval_app("multiple"), services=services).run({"q": "x"})
    assert "dataset 'b' is not configured" in (failed.error or "")
