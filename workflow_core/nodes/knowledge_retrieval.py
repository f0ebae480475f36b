"""knowledge-retrieval: search local knowledge bases through ``Retriever.search`` (SPEC §7.14).

Dataset ids map to local KBs through ``FLOWSCOPE_KB_CONFIG``. ``multiple`` mode searches every
dataset with ``top_k`` / ``score_threshold``; ``single`` mode (where Dify lets an LLM pick one
dataset) searches them all and keeps the dataset of the best hit — no router call. Reranking
settings are ignored: scores are the retriever's (cosine similarity, or normalised BM25).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register
from workflow_core.retrieval.base import KnowledgeError, Retriever
from workflow_core.retrieval.local import default_retriever

if TYPE_CHECKING:
    from workflow_core.context import RunContext

DEFAULT_TOP_K = 4


class MultipleRetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    top_k: int = Field(default=DEFAULT_TOP_K, ge=1, le=100)
    score_threshold: float | None = Field(default=None, ge=0, le=1)
    score_threshold_enabled: bool | None = None

    def threshold(self) -> float | None:
        return None if self.score_threshold_enabled is False else self.score_threshold


class KnowledgeRetrievalData(NodeData):
    dataset_ids: list[str] = Field(min_length=1)
    query_variable_selector: list[str] = Field(min_length=2)
    retrieval_mode: Literal["single", "multiple"] = "multiple"
    multiple_retrieval_config: MultipleRetrievalConfig = Field(
        default_factory=MultipleRetrievalConfig
    )


@register("knowledge-retrieval")
class KnowledgeRetrievalNode(Node[KnowledgeRetrievalData]):
    data_model = KnowledgeRetrievalData

    def run(self, ctx: RunContext) -> NodeOutcome:
        c = self.config
        selector = c.query_variable_selector
        query = ctx.get(selector)
        if not isinstance(query, str):
            raise self.node_error(
                f"query {'.'.join(selector)} must be a string, got {type(query).__name__}"
            )
        retriever: Retriever = ctx.services.retriever or default_retriever()
        settings = c.multiple_retrieval_config
        inputs: dict[str, Any] = {"query": query, "dataset_ids": c.dataset_ids}
        try:
            hits = retriever.search(
                query,
                top_k=settings.top_k,
                score_threshold=settings.threshold(),
                dataset_ids=list(c.dataset_ids),
            )
        except KnowledgeError as exc:
            raise self.node_error(str(exc)) from exc
        if c.retrieval_mode == "single" and hits:
            best = hits[0].dataset_id
            hits = [h for h in hits if h.dataset_id == best]
        return NodeOutcome(outputs={"result": [h.as_dify() for h in hits]}, inputs=inputs)
